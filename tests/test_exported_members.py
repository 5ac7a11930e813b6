import dra_core


def test_all_is_sorted_and_unique() -> None:
    names = [n for n in dra_core.__all__ if n != "__version__"]
    assert names == sorted(names)
    assert len(set(dra_core.__all__)) == len(dra_core.__all__)


def test_every_export_exists_and_is_documented() -> None:
    for name in dra_core.__all__:
        member = getattr(dra_core, name)
        if name != "__version__":
            assert member.__doc__, f"{name} has no docstring"


def test_features_roundtrip() -> None:
    f = dra_core.Features.from_mapping({"adminAccess": False, "DRADeviceTaints": False})
    assert not f.admin_access and not f.device_taints and f.prioritized_list
    assert dra_core.Features.from_mapping(f.to_mapping()) == f
