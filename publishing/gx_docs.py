"""Ship a Great Expectations Data Docs site in a release, made to open offline."""

from __future__ import annotations

import re
import shutil
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

GX_DOCS_DIR = "docs/gx"
GX_DOCS_INDEX = f"{GX_DOCS_DIR}/index.html"


_LOCAL_LINK = re.compile(r"""(?:href|src)=["']([^"'#?:]+)""")


# What a shipped page must not fetch: GE's templates load jQuery, Bootstrap and bootstrap-table
# from public CDNs and GE's logo from its S3 bucket (with a timestamp: a beacon).
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
_EXTERNAL_TAG = re.compile(
    r"""<(?:link|img|iframe)\b[^>]*\b(?:href|src)=["']https?://[^>]*>""", re.IGNORECASE
)
_EXTERNAL_CSS_URL = re.compile(r"""url\(\s*['"]?https?://[^)]*\)""", re.IGNORECASE)


@cache
def _banner():
    """The macros of templates/offline_banner.html (style, links): autoescaped, strict.

    publishing/ has its own template: it comes before reporting/ in the stages and never
    imports it.
    """
    env = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )
    return env.get_template("offline_banner.html").module


def offline_page(html: str, links: list[tuple[str, str]] | None = None) -> str:
    """A GE Data Docs page that opens offline and fetches nothing from the network.

    Every script goes (they only drive widgets built on the CDN libraries), so do external
    stylesheets and images; a small inline stylesheet keeps tables readable. `links` (label,
    relative href) are listed at the top, for the index, whose table GE renders in JavaScript.
    """
    html = _EXTERNAL_TAG.sub("", _SCRIPT.sub("", html))
    html = _EXTERNAL_CSS_URL.sub("none", html)  # e.g. GE's dark-mode logo from S3
    style = str(_banner().style())
    html = re.sub(r"</head>", lambda m: style + m.group(0), html, count=1, flags=re.IGNORECASE)
    if links:
        block = str(_banner().links(links))
        html = re.sub(r"(<body\b[^>]*>)", lambda m: m.group(1) + block, html, count=1)
    return html


def copy_data_docs(site_dir: Path, dest: Path) -> None:
    """Copy a GE Data Docs site: its pages, made to open offline, and the static files they use.

    GE copies its whole static folder (4 MB: fonts, tutorial GIFs) into every site; the
    pages use the favicon of it (their styles are inline, their scripts from CDNs, which
    `offline_page` removes).
    """
    site_dir = site_dir.resolve()
    pages = [
        p for p in sorted(site_dir.rglob("*.html")) if p.relative_to(site_dir).parts[0] != "static"
    ]
    if not (site_dir / "index.html").is_file():
        raise FileNotFoundError(f"no Data Docs index in {site_dir}")
    wanted = set(pages)
    for page in pages:
        for link in _LOCAL_LINK.findall(page.read_text(encoding="utf-8")):
            target = (page.parent / link).resolve()
            if target.is_file() and target.is_relative_to(site_dir):
                wanted.add(target)
    validations = [
        (" / ".join(p.relative_to(site_dir / "validations").parts[:1] + (p.parent.name,)), p)
        for p in pages
        if p.relative_to(site_dir).parts[0] == "validations"
    ]
    for path in sorted(wanted):
        copy = dest / path.relative_to(site_dir)
        copy.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".html":
            links = None
            if path == site_dir / "index.html":
                links = [(label, p.relative_to(site_dir).as_posix()) for label, p in validations]
            copy.write_text(offline_page(path.read_text(encoding="utf-8"), links), "utf-8")
        else:
            shutil.copyfile(path, copy)


def released_checks(checks: list[dict], gx_docs: Path | None) -> list[dict]:
    """`checks` with each Data Docs page as its path in the release (under docs/gx/)."""
    released = []
    for check in checks:
        check = dict(check)
        page = check.pop("data_docs", None)
        if page:
            if gx_docs is None or not Path(page).resolve().is_relative_to(gx_docs.resolve()):
                raise ValueError(
                    f"{check.get('check')}: its Data Docs page {page} is not in the shipped site"
                )
            relative = Path(page).resolve().relative_to(gx_docs.resolve())
            check["data_docs"] = f"{GX_DOCS_DIR}/{relative.as_posix()}"
        released.append(check)
    return released
