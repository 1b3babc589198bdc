"""What scripts/bootstrap checks before it installs anything, so a fresh machine stops with the exact Debian
packages to install instead of failing deep inside pip.

The studio needs the Python version pyproject.toml declares; pesq, pysptk and pyworld build from source, which
needs a C and a C++ compiler and Python's headers; a new .venv needs the venv module with ensurepip
(Debian ships it apart, as python3.X-venv).

Usage: <python> scripts/prerequisites.py [--venv | --existing-venv]
  --venv: .venv is about to be created with this Python; --existing-venv: this Python is .venv's own
Runs on any Python 3, including ones too old for the studio, so that it can say so.
"""
import importlib.util
import os
import re
import shlex
import shutil
import sys
import sysconfig

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYPROJECT = os.path.join(CHECKOUT, "pyproject.toml")
VENV = os.path.join(CHECKOUT, ".venv")


def minimum_python(pyproject_text):
    """(major, minor) from `requires-python = ">=X.Y"`."""
    match = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)', pyproject_text, re.M)
    return int(match.group(1)), int(match.group(2))


def _compiler(variable, default):
    command = os.environ.get(variable) or sysconfig.get_config_var(variable) or default
    return shlex.split(command)[0]


def facts(new_venv, existing_venv=None):
    """What this interpreter and machine have; existing_venv is the .venv this interpreter belongs to, if any."""
    compilers = [_compiler("CC", "cc"), _compiler("CXX", "c++")]
    return {
        "python": sys.version_info[:2],
        "executable": sys.executable,
        "missing_compilers": [c for c in compilers if shutil.which(c) is None],
        "headers": os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")),
        "venv": importlib.util.find_spec("ensurepip") is not None if new_venv else True,
        "existing_venv": existing_venv,
    }


def problems(found, minimum):
    """The sentences to print and the Debian packages that fix them (empty when all is well)."""
    version = "{}.{}".format(*found["python"])
    if found["python"] < minimum:
        wanted = "python{}.{}".format(*minimum)
        needs = f"Amphion Studio needs Python {minimum[0]}.{minimum[1]} or newer; {found['executable']} is " \
                f"Python {version}."
        if found["existing_venv"]:
            remedy = f"{found['existing_venv']} was made with it and is reused as long as it exists: install a " \
                     f"newer Python, remove that .venv and run again with the newer one, e.g. " \
                     f"rm -rf {shlex.quote(found['existing_venv'])} && PYTHON={wanted} ./run.sh"
        else:
            remedy = f"Install a newer one and run again with it, e.g. PYTHON={wanted} ./run.sh"
        return [f"{needs} {remedy}"], [wanted, f"{wanted}-venv", f"{wanted}-dev"]
    sentences, packages = [], []
    if found["missing_compilers"]:
        sentences.append(f"No C/C++ compiler ({', '.join(found['missing_compilers'])}): pesq, pysptk and pyworld "
                         f"are built from source.")
        packages.append("build-essential")
    if not found["headers"]:
        sentences.append(f"Python {version}'s headers (Python.h) are missing: building pesq, pysptk and pyworld "
                         f"needs them.")
        packages.append(f"python{version}-dev")
    if not found["venv"]:
        sentences.append(f"Python {version} cannot create a virtual environment (no ensurepip).")
        packages.append(f"python{version}-venv")
    return sentences, packages


def main(argv):
    with open(PYPROJECT, encoding="utf-8") as file:
        minimum = minimum_python(file.read())
    existing_venv = VENV if "--existing-venv" in argv else None
    sentences, packages = problems(facts("--venv" in argv, existing_venv), minimum)
    if not sentences:
        return 0
    for sentence in sentences:
        print(sentence, file=sys.stderr)
    print(f"On Debian or Ubuntu: sudo apt install {' '.join(packages)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
