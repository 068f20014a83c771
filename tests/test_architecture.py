"""The two stages meet only in shared/: no import between them, none from shared into a stage, and
stage two runs stage one only through shared/contract.py (the one place that names its module)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "stage1_embed": {"stage2_restore"},
    "stage2_restore": {"stage1_embed"},
    "shared": {"stage1_embed", "stage2_restore"},
}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_across_stages(package):
    offenders = [
        f"{path.relative_to(ROOT)} imports {sorted(imported_packages(path) & FORBIDDEN[package])}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported_packages(path) & FORBIDDEN[package]
    ]
    assert not offenders, offenders


CONTRACT = ROOT / "shared" / "contract.py"


def names_stage_one(path: Path) -> bool:
    """True when a string in `path`'s code (not its docstrings or comments) names stage one's package."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    return any(
        isinstance(node, ast.Constant) and isinstance(node.value, str) and "stage1_embed" in node.value and id(node) not in docstrings
        for node in ast.walk(tree)
    )


def test_stage_two_reaches_stage_one_only_through_the_contract():
    offenders = [str(p.relative_to(ROOT)) for p in sorted([*(ROOT / "stage2_restore").rglob("*.py"), *(ROOT / "shared").rglob("*.py")])
                 if p != CONTRACT and names_stage_one(p)]  # fmt: skip
    assert not offenders, f"{offenders} run stage one themselves; use shared.contract.run_stage_one"
    assert names_stage_one(CONTRACT)
