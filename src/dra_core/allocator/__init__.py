"""The allocator: problem building, engines, results and the ``Allocator`` facade."""
