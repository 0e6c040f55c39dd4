"""The two requirements files: fully pinned with hashes, runtime apart from development, and
covering every package the code imports."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"incidents", "reviews", "ybiyri", "bench", "tests", "manage", "conftest"}
RUNTIME_CODE = ["incidents", "reviews", "ybiyri", "manage.py", "gunicorn.conf.py"]
DEVELOPMENT_CODE = ["tests", "bench"]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_entries(path: Path) -> list[str]:
    """The file's requirements, one string each, with their continuation lines joined."""
    entries: list[str] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        current = " ".join(filter(None, [current, line.removesuffix("\\").strip()]))
        if not line.endswith("\\"):
            entries.append(current)
            current = ""
    assert not current, f"{path.name} ends inside a continued line"
    return entries


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in requirement_entries(path):
        match = re.fullmatch(
            r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)((?: --hash=sha256:[0-9a-f]{64})+)", entry
        )
        assert match, f"{path.name}: not an exact pin with sha256 hashes: {entry[:120]}"
        found[normalized(match[1])] = match[2]
    return found


RUNTIME = pins(ROOT / "requirements.txt")
DEVELOPMENT = pins(ROOT / "requirements-dev.txt")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared_names(specifiers: list[str]) -> set[str]:
    return {normalized(re.match(r"[A-Za-z0-9._-]+", spec)[0]) for spec in specifiers}


def imported_top_level_modules(*paths: str) -> dict[str, str]:
    """Every absolute import's top-level module, outside the standard library and the project,
    mapped to one file that imports it."""
    modules: dict[str, str] = {}
    files = [
        file
        for path in paths
        for file in ((ROOT / path).rglob("*.py") if (ROOT / path).is_dir() else [ROOT / path])
    ]
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(), filename=str(file))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    modules.setdefault(top, str(file.relative_to(ROOT)))
    return modules


DISTRIBUTIONS = packages_distributions()


def distributions_of(module: str) -> set[str]:
    return {normalized(name) for name in DISTRIBUTIONS.get(module, [])}


def test_every_requirement_is_an_exact_pin_with_hashes():
    assert len(RUNTIME) > 20
    assert len(DEVELOPMENT) > len(RUNTIME)


def test_the_runtime_file_holds_no_test_lint_or_type_checking_package():
    development_only = declared_names(PYPROJECT["project"]["optional-dependencies"]["dev"])
    assert {"pytest", "ruff", "schemathesis", "mypy", "hypothesis"} <= development_only
    assert development_only.isdisjoint(RUNTIME)


def test_the_development_file_pins_the_runtime_packages_at_the_same_versions():
    assert {name: DEVELOPMENT.get(name) for name in RUNTIME} == RUNTIME


def test_every_declared_dependency_is_pinned_in_its_file():
    assert declared_names(PYPROJECT["project"]["dependencies"]) <= RUNTIME.keys()
    assert declared_names(PYPROJECT["project"]["optional-dependencies"]["dev"]) <= DEVELOPMENT.keys()


def unpinned_imports(code: list[str], pinned: dict[str, str]) -> dict[str, str]:
    return {
        module: importer
        for module, importer in imported_top_level_modules(*code).items()
        if not distributions_of(module) & pinned.keys()
    }


def test_the_import_scan_sees_the_third_party_packages_of_the_product_code():
    assert {"django", "rest_framework", "jwt", "kombu"} <= imported_top_level_modules(*RUNTIME_CODE).keys()
    assert {"pytest", "hypothesis", "factory"} <= imported_top_level_modules(*DEVELOPMENT_CODE).keys()


def test_every_package_the_product_code_imports_is_pinned_in_the_runtime_file():
    assert unpinned_imports(RUNTIME_CODE, RUNTIME) == {}


def test_every_package_the_tests_and_benchmarks_import_is_pinned_in_the_development_file():
    assert unpinned_imports(DEVELOPMENT_CODE, DEVELOPMENT) == {}
