#!/usr/bin/env python3
"""Fetch/verify/resolve tests against a fixture repository made at test time and served by
server.py on 127.0.0.1. One case per run: fixture_test.py CASE (see CASES below).

Environment: KLDLOAD (the program), PLUGIN_DIR (where debian.so is).
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KLDLOAD = os.environ["KLDLOAD"]
PLUGIN_DIR = os.environ["PLUGIN_DIR"]
EXIT_FAIL, EXIT_VERIFY, EXIT_UNSAT = 1, 4, 5


class Fixture:
    def __init__(self, valid_until=None):
        self.dir = tempfile.mkdtemp(prefix="kldload-fetch-")
        env = dict(os.environ)
        if valid_until:
            env["VALID_UNTIL"] = valid_until
        subprocess.run([os.path.join(HERE, "make-fixture.sh"), self.dir], check=True, env=env)
        self.root = self.dir + "/srv"
        os.rename(self.dir + "/debian", self.dir + "/srv.debian")
        os.makedirs(self.root)
        os.rename(self.dir + "/srv.debian", self.root + "/debian")
        self.dists = self.root + "/debian/dists/fixture"
        portfile = self.dir + "/port"
        self.server = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"),
                                        self.root, portfile])
        for _ in range(100):
            if os.path.exists(portfile):
                break
            time.sleep(0.05)
        self.port = int(open(portfile).read())
        self.mirror = "http://127.0.0.1:%d/debian" % self.port
        self.work = self.dir + "/work"
        self.cache = self.dir + "/cache"
        self.out = self.dir + "/out"

    def close(self):
        self.server.kill()
        self.server.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def rules(self, text):
        with open(self.root + "/.rules", "w") as f:
            f.write(text)

    def log(self):
        try:
            return open(self.root + "/.log").read().splitlines()
        except FileNotFoundError:
            return []

    def sign(self, key="archive@fixture.invalid"):
        env = dict(os.environ, GNUPGHOME=self.dir + "/gnupg")
        subprocess.run(["gpg", "-q", "--batch", "--yes", "--local-user", key, "--clearsign",
                        "-o", self.dists + "/InRelease", self.dists + "/Release"],
                       check=True, env=env)

    def run(self, *args, needs=None, stages="fetch..resolve", keyring=None, work=None,
            timeout=120):
        cmd = [KLDLOAD, "--plugin-path", PLUGIN_DIR, "--work-dir", work or self.work,
               "--cache-dir", self.cache, "-o", self.out, "--stage", stages,
               "--mirror", self.mirror, "--keyring", keyring or self.dir + "/keyring.gpg",
               "-O", "debian.apt_dir=/nonexistent", "--fetch-timeout", "2", "-j", "4"]
        if needs:
            cmd += ["-O", "debian.needs=" + needs]
        cmd += list(args)
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        p.elapsed = time.monotonic() - t0
        sys.stderr.write("$ %s\n-> %d in %.1fs\n%s" % (" ".join(cmd), p.returncode,
                                                         p.elapsed, p.stderr))
        return p


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_fail(p, code, pattern):
    check(p.returncode == code, "exit %d, expected %d" % (p.returncode, code))
    check(re.search(pattern, p.stderr), "stderr lacks /%s/" % pattern)


def lock_lines(path):
    lines = open(path).read().split("\n\n", 1)[1].splitlines()
    return [l.split(" ") for l in lines if l]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def assert_cache_holds_lock(fx, lock):
    for name, ver, arch, repo, path, size, sha, tags in lock_lines(lock):
        entry = "%s/sha256/%s/%s" % (fx.cache, sha[:2], sha)
        check(os.path.getsize(entry) == int(size), "size of %s" % name)
        check(sha256(entry) == sha, "hash of %s" % name)
        info = subprocess.run(["dpkg-deb", "--field", entry, "Package", "Version"],
                              capture_output=True, text=True, check=True).stdout
        check(("Package: %s" % name) in info and ver in info, "dpkg-deb reads %s" % name)


def no_stage_output(fx, stage):
    check(not os.path.exists("%s/%s" % (fx.work, stage)), "%s output survived" % stage)


# ---- cases ----

def case_ok(fx):
    p = fx.run(needs="source:zfs:zfs-dkms,runtime:zfs:zfsutils-linux")
    check(p.returncode == 0, "exit %d" % p.returncode)
    lock = fx.work + "/resolve/kldload.lock"
    text = open(lock).read()
    check(text.startswith("kldload-lock 1\n"), "lock header")
    check("\nkernel: 1.0.0-1-amd64\n" in text, "newest plain kernel picked (not -cloud, not 0.9)")
    check(re.search(r"\ndate: .*\d{4} \d\d:\d\d:\d\d", text), "release date recorded")
    rows = {l[0]: l for l in lock_lines(lock)}
    check([l[0] for l in lock_lines(lock)] == sorted(rows), "sorted by name")
    check("kernel" in rows["linux-image-1.0.0-1-amd64"][7], "kernel tag")
    check("compiler:1.0.0-1-amd64" in rows["gcc-12"][7], "compiler of the kernel")
    for n in ("linux-headers-1.0.0-1-amd64", "linux-headers-1.0.0-1-common", "linux-kbuild-1.0"):
        check("headers:1.0.0-1-amd64" in rows[n][7], "headers tag on " + n)
    check("source:zfs" in rows["zfs-dkms"][7] and "build:1.0.0-1-amd64" in rows["dkms"][7],
          "module source and its closure in the build root")
    check("runtime:zfs" in rows["zfsutils-linux"][7], "runtime need")
    check("image" in rows["base-files"][7] and "image" in rows["bigpkg"][7], "priorities")
    check("gcc" not in rows, "alternative resolved to gcc-12")
    check("linux-image-1.0.0-1-cloud-amd64" not in rows, "other flavour left out")
    assert_cache_holds_lock(fx, lock)
    check(os.path.exists(fx.out + "/kldload.lock"), "lock published beside the output")
    # a second run reuses the cache: no package is downloaded again
    before = len([l for l in fx.log() if "/pool/" in l])
    p = fx.run("--force", needs="source:zfs:zfs-dkms,runtime:zfs:zfsutils-linux")
    check(p.returncode == 0, "second run")
    check(len([l for l in fx.log() if "/pool/" in l]) == before, "packages fetched again")
    check(open(fx.work + "/resolve/kldload.lock").read() == text, "same lock twice")


def case_lock_rebuild(fx):
    p = fx.run(needs="runtime:zfs:zfsutils-linux")
    check(p.returncode == 0, "first run")
    saved = fx.dir + "/saved.lock"
    shutil.copy(fx.work + "/resolve/kldload.lock", saved)
    shutil.rmtree(fx.cache)
    # the cache is gone: every package comes again, exactly as locked
    p = fx.run("--lock", saved, work=fx.dir + "/work2")
    check(p.returncode == 0, "rebuild from the lock")
    check(open(fx.dir + "/work2/resolve/kldload.lock").read() == open(saved).read(), "same set")
    assert_cache_holds_lock(fx, saved)
    with open(saved, "a") as f:
        f.write("zzz 1 all nosuchrepo pool/z.deb 1 %s image\n" % ("0" * 64))
    p = fx.run("--lock", saved, work=fx.dir + "/work3")
    expect_fail(p, 2, r"saved\.lock:\d+: malformed line")


def case_bad_signature(fx):
    text = open(fx.dists + "/InRelease").read().replace("Origin: Fixture", "Origin: Fixturf")
    open(fx.dists + "/InRelease", "w").write(text)
    p = fx.run()
    expect_fail(p, EXIT_VERIFY, r"InRelease: no good signature by a key in .*keyring\.gpg")
    no_stage_output(fx, "fetch")


def case_unknown_key(fx):
    fx.sign("stranger@fixture.invalid")
    p = fx.run()
    expect_fail(p, EXIT_VERIFY, r"InRelease: no good signature")
    no_stage_output(fx, "fetch")
    # and trusting the stranger's key instead makes it pass: the keyring is what decides
    p = fx.run(keyring=fx.dir + "/stranger.gpg")
    check(p.returncode == 0, "with the signer's keyring")


def case_detached(fx):
    """An archive with Release + Release.gpg and no InRelease (apt's fallback)."""
    env = dict(os.environ, GNUPGHOME=fx.dir + "/gnupg")
    os.unlink(fx.dists + "/InRelease")

    def detach(key):
        subprocess.run(["gpg", "-q", "--batch", "--yes", "--local-user", key, "--armor",
                        "--detach-sign", "-o", fx.dists + "/Release.gpg", fx.dists + "/Release"],
                       check=True, env=env)
    detach("stranger@fixture.invalid")
    p = fx.run()
    expect_fail(p, EXIT_VERIFY, r"Release\.gpg: no good signature by a key in .*keyring\.gpg")
    no_stage_output(fx, "fetch")
    detach("archive@fixture.invalid")
    p = fx.run()
    check(p.returncode == 0, "exit %d" % p.returncode)
    check(any("Release.gpg" in l for l in fx.log()), "Release.gpg fetched")
    assert_cache_holds_lock(fx, fx.work + "/resolve/kldload.lock")


def case_file_gpgv(fx):
    """A local mirror (file://) checked with gpgv instead of sqv, good and bad."""
    fx.mirror = "file://%s/debian" % fx.root
    p = fx.run("--verifier", "gpgv")
    check(p.returncode == 0, "exit %d" % p.returncode)
    check(not fx.log(), "the HTTP server was used")
    assert_cache_holds_lock(fx, fx.work + "/resolve/kldload.lock")
    shutil.rmtree(fx.work)
    fx.sign("stranger@fixture.invalid")
    p = fx.run("--verifier", "gpgv")
    expect_fail(p, EXIT_VERIFY, r"InRelease: no good signature .*\(gpgv: .*No public key")


def case_expired(fx):
    p = fx.run()
    expect_fail(p, EXIT_VERIFY, r"Release: expired on Sat, 01 Jan 2000")
    no_stage_output(fx, "fetch")


def case_bad_index(fx):
    # same size, other bytes: the hash check must catch it
    path = fx.dists + "/main/binary-amd64/Packages.xz"
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    p = fx.run()
    expect_fail(p, EXIT_VERIFY, r"main/binary-amd64/Packages\.xz: SHA-256 [0-9a-f]{64}, expected")
    no_stage_output(fx, "fetch")
    check(not os.listdir(fx.cache + "/sha256") or not any(
        f.endswith(".part") or len(f) == 64 for d in os.listdir(fx.cache + "/sha256")
        for f in os.listdir(fx.cache + "/sha256/" + d)), "nothing unverified kept")
    # a longer file: the size check must catch it
    open(path, "ab").write(b"x")
    p = fx.run()
    expect_fail(p, EXIT_VERIFY, r"Packages\.xz: (size|larger)")


def case_bad_package(fx):
    deb = fx.root + "/debian/pool/main/m/make/make_4.4.1-2_amd64.deb"
    data = bytearray(open(deb, "rb").read())
    data[-10] ^= 0xFF
    open(deb, "wb").write(bytes(data))
    p = fx.run()
    expect_fail(p, EXIT_VERIFY, r"make_4\.4\.1-2_amd64\.deb: SHA-256 [0-9a-f]{64}, expected")
    no_stage_output(fx, "resolve")
    leftovers = [f for d in os.listdir(fx.cache + "/sha256")
                 for f in os.listdir(fx.cache + "/sha256/" + d)]
    good = [f for f in leftovers if len(f) == 64]
    check(all(sha256("%s/sha256/%s/%s" % (fx.cache, f[:2], f)) == f for f in good),
          "every cache entry matches its name")
    check(not any(f.endswith(".part") for f in leftovers), "bad partial file kept")


def case_truncated_resume(fx):
    fx.rules("bigpkg truncate 1\n")
    p = fx.run()
    check(p.returncode == 0, "exit %d" % p.returncode)
    reqs = [l for l in fx.log() if "bigpkg" in l]
    check(len(reqs) == 2 and reqs[0].endswith(" -") and re.search(r"bytes=\d+-$", reqs[1]),
          "a second request resumed with a Range: %s" % reqs)
    assert_cache_holds_lock(fx, fx.work + "/resolve/kldload.lock")


def case_fail_recover(fx):
    fx.rules("InRelease fail503 2\nPackages.xz fail503 1\nmake_ fail503 3\n")
    p = fx.run()
    check(p.returncode == 0, "exit %d" % p.returncode)
    log = fx.log()
    check(len([l for l in log if "InRelease" in l]) == 3, "InRelease tried three times")
    check(len([l for l in log if "make_" in l]) == 4, "make tried four times")
    # a server that keeps failing: a bounded number of attempts, then a clear error
    shutil.rmtree(fx.work)
    fx.rules("InRelease fail503\n")
    p = fx.run("--force")
    expect_fail(p, EXIT_FAIL, r"dists/stable/InRelease: HTTP 503")


def case_hang(fx):
    fx.rules("InRelease hang\n")
    p = fx.run("--option", "debian.unused=1")
    expect_fail(p, EXIT_FAIL, r"InRelease: no answer for 2 s")
    check(p.elapsed < 60, "gave up in bounded time (%.1fs)" % p.elapsed)
    no_stage_output(fx, "fetch")


def case_unsat(fx):
    p = fx.run(needs="runtime:x:broken")
    expect_fail(p, EXIT_UNSAT, r"broken : Depends: missing-thing \(>= 2\) but it is not installable")
    no_stage_output(fx, "resolve")
    p = fx.run(needs="runtime:x:needs-newer")
    expect_fail(p, EXIT_UNSAT, r"needs-newer : Depends: libc6 \(>= 9\.0\)")
    p = fx.run(needs="runtime:x:no-such-package")
    expect_fail(p, EXIT_UNSAT, r"Unable to locate package no-such-package")


def case_conflict(fx):
    p = fx.run(needs="runtime:x:conflict-a,runtime:y:conflict-b")
    expect_fail(p, EXIT_UNSAT, r"conflict-a : Conflicts or Breaks: conflict-b")
    no_stage_output(fx, "resolve")


def case_kernel_choice(fx):
    p = fx.run("--kernel", "0.9.0-1-amd64")
    check(p.returncode == 0, "exit %d" % p.returncode)
    text = open(fx.work + "/resolve/kldload.lock").read()
    check("\nkernel: 0.9.0-1-amd64\n" in text, "chosen kernel locked")
    rows = {l[0]: l for l in lock_lines(fx.work + "/resolve/kldload.lock")}
    check("compiler:0.9.0-1-amd64" in rows["gcc-12"][7], "compiler found through linux-compiler-gcc-12-x86")
    check("headers:0.9.0-1-amd64" in rows["linux-kbuild-0.9"][7], "its kbuild")
    check("linux-image-amd64" not in rows, "no meta package pulling another kernel")
    p = fx.run("--kernel", "9.9-amd64", "--force")
    expect_fail(p, EXIT_UNSAT, r"no kernel package linux-image-9\.9-amd64")


def case_interrupted(fx):
    """SIGINT in the middle of a download: no stage output, no cache entry that does not match
    its name, the partial file kept; the next run resumes it with a Range request."""
    import signal
    fx.rules("bigpkg slow 1\n")
    cmd = [KLDLOAD, "--plugin-path", PLUGIN_DIR, "--work-dir", fx.work, "--cache-dir", fx.cache,
           "-o", fx.out, "--stage", "fetch..resolve", "--mirror", fx.mirror, "--keyring",
           fx.dir + "/keyring.gpg", "-O", "debian.apt_dir=/nonexistent"]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("bigpkg" in l for l in fx.log()):
        time.sleep(0.05)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    sys.stderr.write(err)
    check(p.returncode == 130, "exit %d after SIGINT" % p.returncode)
    no_stage_output(fx, "resolve")
    files = [f for d in os.listdir(fx.cache + "/sha256")
             for f in os.listdir(fx.cache + "/sha256/" + d)]
    for f in files:
        if len(f) == 64:
            check(sha256("%s/sha256/%s/%s" % (fx.cache, f[:2], f)) == f, "bad entry " + f)
    parts = [f for f in files if f.endswith(".part")]
    check(parts, "no partial file kept to resume")
    p = fx.run()
    check(p.returncode == 0, "rerun exit %d" % p.returncode)
    reqs = [l for l in fx.log() if "bigpkg" in l]
    check(re.search(r"bytes=[1-9]\d*-$", reqs[-1]), "resumed with a Range: %s" % reqs)
    assert_cache_holds_lock(fx, fx.work + "/resolve/kldload.lock")


def case_concurrent(fx):
    """Four processes share one cache: all succeed, every entry is sound."""
    procs = []
    for i in range(4):
        cmd = [KLDLOAD, "--plugin-path", PLUGIN_DIR, "--work-dir", "%s/w%d" % (fx.dir, i),
               "--cache-dir", fx.cache, "-o", "%s/o%d" % (fx.dir, i), "--stage",
               "fetch..resolve", "--mirror", fx.mirror, "--keyring", fx.dir + "/keyring.gpg",
               "-O", "debian.apt_dir=/nonexistent"]
        procs.append(subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True))
    for p in procs:
        err = p.communicate(timeout=120)[1]
        check(p.returncode == 0, "concurrent run failed: %s" % err)
    assert_cache_holds_lock(fx, fx.dir + "/w0/resolve/kldload.lock")
    for i in range(1, 4):
        check(open(fx.dir + "/w0/resolve/kldload.lock").read() ==
              open(fx.dir + "/w%d/resolve/kldload.lock" % i).read(), "same lock")
    check(not [f for d in os.listdir(fx.cache + "/sha256")
               for f in os.listdir(fx.cache + "/sha256/" + d) if f.endswith(".part")],
          "partial files left behind")


def case_apt_config(fx):
    """No --mirror, no --keyring: the mirror and its key come from APT's configuration, a
    one-line sources.list.d/*.list, then a deb822 *.sources, as apt reads them."""
    apt = fx.dir + "/apt"
    key = fx.dir + "/keyring.gpg"
    forms = {
        "one-line": ("fixture.list",
                     "# a comment\ndeb-src %s fixture main\ndeb [signed-by=%s] %s fixture main contrib\n"
                     % (fx.mirror, key, fx.mirror)),
        "deb822": ("fixture.sources",
                   "Types: deb-src\nURIs: http://127.0.0.1:9/unused\nSuites: fixture\nComponents: main\n\n"
                   "Types: deb\nURIs: %s\nSuites: fixture\nComponents: main contrib\n"
                   "Signed-By: %s\n" % (fx.mirror, key)),
    }
    for form, (name, text) in forms.items():
        shutil.rmtree(apt, ignore_errors=True)
        os.makedirs(apt + "/sources.list.d")
        with open(apt + "/sources.list.d/" + name, "w") as f:
            f.write(text)
        shutil.rmtree(fx.work, ignore_errors=True)
        cmd = [KLDLOAD, "--plugin-path", PLUGIN_DIR, "--work-dir", fx.work, "--cache-dir",
               fx.cache, "-o", fx.out, "--stage", "fetch..resolve", "-O",
               "debian.apt_dir=" + apt, "--fetch-timeout", "2", "-r", "fixture"]
        before = len(fx.log())
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        sys.stderr.write("$ %s\n-> %d\n%s" % (" ".join(cmd), p.returncode, p.stderr))
        check(p.returncode == 0, "%s: exit %d" % (form, p.returncode))
        check(len(fx.log()) > before, "%s: the fixture mirror was not used" % form)
        text = open(fx.work + "/resolve/kldload.lock").read()
        check(("repo: fixture %s " % fx.mirror) in text, "%s: the lock names the mirror" % form)
        assert_cache_holds_lock(fx, fx.work + "/resolve/kldload.lock")


CASES = {
    "ok": (case_ok, {}),
    "lock-rebuild": (case_lock_rebuild, {}),
    "bad-signature": (case_bad_signature, {}),
    "unknown-key": (case_unknown_key, {}),
    "expired": (case_expired, {"valid_until": "Sat, 01 Jan 2000 00:00:00 UTC"}),
    "bad-index": (case_bad_index, {}),
    "bad-package": (case_bad_package, {}),
    "truncated-resume": (case_truncated_resume, {}),
    "fail-recover": (case_fail_recover, {}),
    "hang": (case_hang, {}),
    "unsat": (case_unsat, {}),
    "conflict": (case_conflict, {}),
    "kernel-choice": (case_kernel_choice, {}),
    "concurrent": (case_concurrent, {}),
    "interrupted": (case_interrupted, {}),
    "detached": (case_detached, {}),
    "file-gpgv": (case_file_gpgv, {}),
    "apt-config": (case_apt_config, {}),
}

if __name__ == "__main__":
    fn, kw = CASES[sys.argv[1]]
    fx = Fixture(**kw)
    try:
        fn(fx)
    except AssertionError as e:
        print("FAIL %s: %s" % (sys.argv[1], e))
        sys.exit(1)
    finally:
        fx.close()
    print("PASS %s" % sys.argv[1])
