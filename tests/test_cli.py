"""The console script as a user runs it."""
import subprocess, sys
import pytest

def run(*args, **kw):
    return subprocess.run(['structflow', *args], capture_output=True, text=True, timeout=600, **kw)

def test_help_lists_every_command():
    from structflow.cli import COMMANDS
    r = run('--help')
    assert r.returncode == 0, r.stderr
    for name in COMMANDS: assert name in r.stdout

def test_unknown_command_fails():
    r = run('frobnicate')
    assert r.returncode == 2 and 'unknown command' in r.stderr

def test_every_command_has_help():
    "Each command's module exists and answers --help."
    from structflow.cli import COMMANDS
    for name in COMMANDS:
        r = run(name, '--help')
        assert r.returncode == 0, f'structflow {name} --help failed:\n{r.stderr[-2000:]}'
        assert 'usage' in r.stdout.lower()
