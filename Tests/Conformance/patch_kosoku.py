#!/usr/bin/env python3
"""Work around a kosoku 0.1.0 bug in the Autobahn compression cases (12.*, 13.*).

kosoku hands the case code an echo that the server left uncompressed (legal for small messages under
RFC 7692) as a Python str, and the original Autobahn case code then feeds that str to hashlib, which
raises TypeError, so the case is reported as ERROR whatever the server did. We re-encode the str to
bytes before hashing (UTF-8 for text, Latin-1 for binary, mirroring how kosoku decoded it). Nothing else
changes: a wrong echo still fails. Idempotent.

Usage: patch_kosoku.py PATH_TO_PYTHON_OF_THE_VENV
"""
import pathlib
import subprocess
import sys

MARK = "# switchboard: kosoku passes uncompressed echoes as str"

python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
package = subprocess.check_output([python, "-c", "import kosoku, os; print(os.path.dirname(kosoku.__file__))"], text=True).strip()
case_file = pathlib.Path(package) / "cases" / "case12_x_x.py"
source = case_file.read_text()
if MARK in source:
    print(f"already patched: {case_file}")
    sys.exit(0)
original = "def onMessage(self, msg, binary):\n   m = hashlib.sha1()\n"
if source.count(original) != 1:
    sys.exit(f"unexpected kosoku version: cannot find onMessage in {case_file}")
patched = ("def onMessage(self, msg, binary):\n"
           f"   if isinstance(msg, str):  {MARK}\n"
           "      msg = msg.encode('latin-1' if binary else 'utf-8')\n"
           "   m = hashlib.sha1()\n")
case_file.write_text(source.replace(original, patched))
for cached in case_file.parent.glob("__pycache__/case12_x_x*.pyc"):
    cached.unlink()
print(f"patched: {case_file}")
