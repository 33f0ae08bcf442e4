"""Fetch the third-party browser assets the pages self-host (never from a CDN at run time),
from the npm registry, pinned by version and checked against the registry's sha512
integrity. `make` runs this after installing the Python dependencies; the files land under
each app's `static/.../vendor/` directory, which git ignores.

    python tools/fetch_assets.py          # fetch what is missing
    python tools/fetch_assets.py --force  # fetch again

Registry: $YGT_NPM_REGISTRY (default https://registry.npmjs.org). Offline, it says so and
exits 0: the pages still work, without their charts."""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# package, version, sha512 integrity (npm view <pkg>@<version> dist.integrity),
# destination, {path in the tarball: file name}
ASSETS = [
    (
        "echarts",
        "5.6.0",
        "sha512-oTbVTsXfKuEhxftHqL5xprgLoc0k7uScAwtryCgWF6hPYFLRwOUHiFmHGCBKP5NPFNkDVopOieyUqYGH8Fa3kA==",
        ROOT / "src/yigongti/indicators/static/indicators/vendor/echarts",
        {
            "package/dist/echarts.min.js": "echarts.min.js",
            "package/LICENSE": "LICENSE",
            "package/NOTICE": "NOTICE",
        },
    ),
]


def fetch(name: str, version: str, integrity: str, dest: Path, files: dict[str, str]) -> None:
    registry = os.environ.get("YGT_NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")
    url = f"{registry}/{name}/-/{name}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 (https registry)
        data = resp.read()
    algo, _, expected = integrity.partition("-")
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != expected:
        raise SystemExit(f"{name}@{version}: integrity mismatch (got {algo}-{got})")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member, target in files.items():
            src = tar.extractfile(member)
            if src is None:
                raise SystemExit(f"{name}@{version}: {member} missing from the package")
            (dest / target).write_bytes(src.read())
    print(f"fetched {name}@{version} → {dest.relative_to(ROOT)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    for name, version, integrity, dest, files in ASSETS:
        if not args.force and all((dest / f).exists() for f in files.values()):
            continue
        try:
            fetch(name, version, integrity, dest, files)
        except OSError as exc:  # offline: the pages work without charts
            print(
                f"warning: could not fetch {name}@{version} ({exc}); charts stay off",
                file=sys.stderr,
            )


if __name__ == "__main__":
    main()
