"""keb_app: the broker's composition root, settings, CLI and local landscape.

It needs the ``server`` extra; the base distribution holds only the domain (docs/domain.md).
"""

from importlib.util import find_spec

if find_spec("litestar") is None:  # pragma: no cover - only without the server extra
    raise ModuleNotFoundError(
        "the keb broker needs its server dependencies: pip install 'keb[server]' "
        "(or, from the repository, pip install '.[server]'); the base install is the domain library only"
    )
