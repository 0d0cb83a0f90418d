"""Black-box API tests: start the real binaries (ASan build) against the test
profile of the local stack (tests/run.sh exports its env) and speak HTTP."""
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build/asan"))
STATE = os.environ.get("STATE", os.path.join(ROOT, ".state", "test"))
BASE = "http://127.0.0.1:%s" % os.environ.get("HTTP_PORT", "25480")

# Worker roles the API tests need running; each role's module adds itself here.
WORKER_ROLES = ["media", "cart", "payment", "analytics"]


def _start(name, argv, extra_env=None):
    os.makedirs(os.path.join(STATE, "logs"), exist_ok=True)
    log = open(os.path.join(STATE, "logs", name + ".log"), "ab")
    env = dict(os.environ, **(extra_env or {}))
    return subprocess.Popen(argv, stdout=log, stderr=log, env=env, cwd=ROOT)


def _stop(proc, name):
    """SIGTERM must end the process cleanly (exit 0): graceful shutdown is part
    of the contract, and ASan reports leaks at exit with a non-zero status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("%s did not stop within 30 s of SIGTERM" % name)
    assert proc.returncode == 0, "%s exited with %s (see %s/logs/%s.log)" % (
        name, proc.returncode, STATE, name)


@pytest.fixture(scope="session", autouse=True)
def services():
    procs = [("ingest", _start("ingest", [os.path.join(BUILD, "smartcart-ingest")]))]
    for role in WORKER_ROLES:
        procs.append(("worker-" + role,
                      _start("worker-" + role, [os.path.join(BUILD, "smartcart-worker"), role])))
    deadline = time.time() + 30
    while True:
        try:
            if requests.get(BASE + "/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        if procs[0][1].poll() is not None or time.time() > deadline:
            for _, proc in procs:  # leave no worker behind
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            raise RuntimeError("ingest did not start; see %s/logs/ingest.log" % STATE)
        time.sleep(0.1)
    yield BASE
    errors = []
    for name, proc in reversed(procs):
        try:
            _stop(proc, name)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, errors


@pytest.fixture
def base():
    return BASE


def unique_email(prefix="user"):
    return "%s-%s@example.com" % (prefix, uuid.uuid4().hex[:12])


def register(email=None, password="correct horse", full_name="Nguyễn Văn A"):
    email = email or unique_email()
    r = requests.post(BASE + "/auth/register",
                      json={"email": email, "password": password, "full_name": full_name})
    assert r.status_code == 201, r.text
    return r.json() | {"password": password}


def login(email, password):
    r = requests.post(BASE + "/auth/login", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def run_cli(*args, env=None, input=None):
    """Runs the admin CLI (smartcart) with the test stack's environment."""
    return subprocess.run([os.path.join(BUILD, "smartcart"), *args], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, **(env or {})), input=input, timeout=60)


@pytest.fixture
def user():
    """A fresh registered customer: {id, email, full_name, password, token}."""
    u = register()
    u["token"] = login(u["email"], u["password"])
    return u


@pytest.fixture
def admin():
    """A fresh administrator made with `smartcart create-admin`."""
    email = unique_email("admin")
    password = "admin password 1"
    r = run_cli("create-admin", email, env={"SMARTCART_ADMIN_PASSWORD": password})
    assert r.returncode == 0, r.stderr
    return {"email": email, "password": password, "token": login(email, password)}


def sql(query, *args):
    """One value (or '') from the test database, for what the API does not show;
    args are bound as psql variables :'a0', :'a1', ..."""
    argv = ["psql", os.environ["DATABASE_URL"], "-qtAX", "-v", "ON_ERROR_STOP=1"]
    for i, a in enumerate(args):
        argv += ["-v", "a%d=%s" % (i, a)]
    r = subprocess.run(argv, input=query, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def wait_for(what, check, timeout=30):
    """Polls check() until it returns a true value, which it returns (waiting,
    not timing: the timeout only bounds a test that would otherwise hang)."""
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.time() < deadline, "gave up waiting for " + what
        time.sleep(0.1)


def wait_for_lock_wait(what, query_like):
    """Waits until another session waits for a lock in a statement whose text
    is LIKE query_like (a test holding a transaction open, say)."""
    wait_for(what, lambda: sql(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE :'a0' AND pid <> pg_backend_pid()", query_like) != "0")


def auth(token):
    return {"Authorization": "Bearer " + token}
