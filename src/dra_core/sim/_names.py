"""Deterministic names and uids.

The API server completes ``metadata.generateName`` with five random characters from
``bcdfghjklmnpqrstvwxz2456789`` (``k8s.io/apimachinery/pkg/util/rand``; no vowels, so
no words). The simulator draws them from a keyed hash instead: the seed, the object's
namespace and base name and a counter. The same inputs give the same names, and a
name already taken moves to the next counter value, as a retried create would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

__all__ = ["ALPHABET", "generated_name", "hash_string", "uid"]

#: The characters of Kubernetes' generated names and pod-template hashes.
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# Kubernetes' names are at most 253 characters (DNS subdomain); generateName keeps
# the base short enough for the suffix (maxGeneratedNameLength = 63 - 5).
_MAX_BASE = 58


def hash_string(*parts: str, length: int = 5) -> str:
    """Return ``length`` characters of ALPHABET drawn from a hash of ``parts``."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).digest()
    number = int.from_bytes(digest, "big")
    out = []
    for _ in range(length):
        number, index = divmod(number, len(ALPHABET))
        out.append(ALPHABET[index])
    return "".join(out)


def generated_name(seed: str, namespace: str, base: str, taken: Callable[[str], bool]) -> str:
    """Complete ``base`` (a generateName) with a deterministic suffix not yet taken."""
    base = base[:_MAX_BASE]
    counter = 0
    while True:
        name = base + hash_string(seed, namespace, base, str(counter))
        if not taken(name):
            return name
        counter += 1


def uid(seed: str, kind: str, namespace: str, name: str, generation: int = 0) -> str:
    """Return a uid in the UUID text form, derived from the object's identity."""
    text = "\x00".join((seed, kind, namespace, name, str(generation)))
    h = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
