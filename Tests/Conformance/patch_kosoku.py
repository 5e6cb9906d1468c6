#!/usr/bin/env python3
"""Work around a kosoku 0.1.0 bug in the Autobahn compression cases (12.*, 13.*), and give the cases'
kill timers room on a loaded machine.

kosoku hands the case code an echo that the server left uncompressed (legal for small messages under
RFC 7692) as a Python str, and the original Autobahn case code then feeds that str to hashlib, which
raises TypeError, so the case is reported as ERROR whatever the server did. We re-encode the str to
bytes before hashing (UTF-8 for text, Latin-1 for binary, mirroring how kosoku decoded it). Nothing else
changes: a wrong echo still fails.

Each case also ends with `self.p.killAfter(N)`: N seconds (1 in most cases) after the case starts, the
peer drops the connection and the case's close is UNCLEAN. On a machine whose cores are busy with other
work (CI runs every suite at once) a correct server's echo and close can take longer than 1 s, so a case
failed at random with "behaviorClose UNCLEAN" (seen: 1.1.1 after 1,035 ms). The timers are multiplied by
KILL_TIMER_SCALE: a server that never answers still fails, only later. Idempotent.

Usage: patch_kosoku.py PATH_TO_PYTHON_OF_THE_VENV
"""
import pathlib
import re
import subprocess
import sys

MARK = "# switchboard: kosoku passes uncompressed echoes as str"

python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
package = subprocess.check_output([python, "-c", "import kosoku, os; print(os.path.dirname(kosoku.__file__))"], text=True).strip()
case_file = pathlib.Path(package) / "cases" / "case12_x_x.py"
source = case_file.read_text()
if MARK in source:
    print(f"already patched: {case_file}")
else:
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

KILL_TIMER_SCALE = 5
KILL_MARK = "# switchboard: kill timer scaled for loaded machines"
kill_timer = re.compile(r"self\.p\.killAfter\(([0-9.]+)\)")
scaled = 0
for case in sorted(case_file.parent.glob("case*.py")):
    text = case.read_text()
    if KILL_MARK in text or not kill_timer.search(text):
        continue
    case.write_text(kill_timer.sub(lambda m: f"self.p.killAfter({m.group(1)} * {KILL_TIMER_SCALE})  {KILL_MARK}", text))
    for cached in case.parent.glob(f"__pycache__/{case.stem}.*.pyc"):
        cached.unlink()
    scaled += 1
print(f"kill timers scaled by {KILL_TIMER_SCALE} in {scaled} case files")
