"""The README as a new user meets it: its set-up commands and its snippet, run as written."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.integration.guide.test_docs import python_blocks

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXTRA_OF = {"pandas": "pandas", "sqlmodel": "sql", "sqlalchemy": "sql"}


def bash_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_starts_with_two_setup_commands_then_one_install_line():
    """Install + example, then the test command; then one plain install from the checkout, never from the index."""
    first, second, use = bash_lines()[:3]
    assert first.startswith('python -m pip install -e ".[') and first.endswith("python examples/pipeline.py")
    assert second == "bash .ci/run"
    assert use.startswith("python -m pip install ") and "/" in use
    assert not re.search(r"pip install[^\n`]*\bconsist\b(?![/\[])", README.replace("/path/to/consist", ""))


def test_first_command_installs_every_extra_the_snippet_imports():
    """Each third-party module the README snippet imports is a dependency or an extra the first command names."""
    extras = set(re.search(r'\.\[([^\]]*)\]', bash_lines()[0]).group(1).split(","))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {re.split(r"[<>=\[ ]", d)[0].replace("-", "_") for d in project["dependencies"]}
    for _, code, _ in python_blocks(README):
        for module in re.findall(r"^(?:import|from) (\w+)", code, flags=re.M):
            if module in sys.stdlib_module_names or module in base or module == "consist":
                continue
            assert EXTRA_OF.get(module) in extras, f"the README imports {module} but its first command lacks its extra"
            assert EXTRA_OF[module] in project["optional-dependencies"]


def test_readme_snippet_runs_as_written_and_again_as_a_hit(tmp_path: Path):
    """In an empty folder the snippet runs; run again, clean_data is not executed."""
    code = "\n".join(code for _, code, _ in python_blocks(README))
    script = tmp_path / "snippet.py"
    script.write_text(code + "\nprint('HIT' if result.cache_hit else 'RAN', len(cleaned))\n", encoding="utf-8")
    runs = [
        subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert [r.split()[-2:] for r in runs] == [["RAN", "2"], ["HIT", "2"]]
