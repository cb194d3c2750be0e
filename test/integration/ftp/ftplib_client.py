"""Python ftplib (the standard library's FTP client, run with Debian's /usr/bin/python3) against
Ferry's FTP listener. One scenario per run, named by the first argument; it prints one JSON
object with what the client saw, and the test asserts on it.

  ftplib_client.py SCENARIO HOST PORT USER PASSWORD [WORKDIR]
"""
import ftplib
import hashlib
import io
import json
import socket
import ssl
import sys
import time


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session, as
    FileZilla, lftp and curl do (ftplib does not by default: bpo-19500)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def code_of(call):
    try:
        reply = call()
        return str(reply)[:3] if isinstance(reply, str) else "ok"
    except ftplib.all_errors as error:
        return str(error)[:3]


def plain(host, port, user, password, _work):
    f = ftplib.FTP()
    f.connect(host, port, timeout=20)
    out = {"welcome": f.getwelcome()}
    f.login(user, password)
    out["pwd"] = f.pwd()
    f.mkd("dir")
    f.cwd("dir")
    data = bytes(range(256)) * 4000
    f.storbinary("STOR data.bin", io.BytesIO(data))
    out["size"] = f.size("data.bin")
    got = io.BytesIO()
    f.retrbinary("RETR data.bin", got.write)
    out["same"] = got.getvalue() == data
    # REST resume: the rest of the file from an offset (download), then an upload resumed at one.
    tail = io.BytesIO()
    f.retrbinary("RETR data.bin", tail.write, rest=1000)
    out["rest_download_same"] = tail.getvalue() == data[1000:]
    f.storbinary("STOR part.bin", io.BytesIO(data[:5000]))
    f.storbinary("STOR part.bin", io.BytesIO(data[5000:]), rest=5000)
    whole = io.BytesIO()
    f.retrbinary("RETR part.bin", whole.write)
    out["rest_upload_same"] = whole.getvalue() == data
    f.storbinary("APPE part.bin", io.BytesIO(b"tail"))
    out["appended_size"] = f.size("part.bin")
    stou = f.sendcmd("TYPE I") and f.transfercmd("STOU")
    stou.sendall(b"unique")
    stou.close()
    out["stou_reply"] = f.voidresp()
    out["mlsd"] = sorted([name, facts.get("type"), facts.get("size")] for name, facts in f.mlsd())
    out["nlst"] = sorted(f.nlst())
    lines = []
    f.retrlines("LIST", lines.append)
    out["list"] = lines
    out["mlst"] = f.sendcmd("MLST data.bin")
    out["mdtm"] = f.sendcmd("MDTM data.bin")
    out["mfmt"] = f.sendcmd("MFMT 20200102030405 data.bin")
    out["mdtm_after"] = f.sendcmd("MDTM data.bin")
    out["chmod"] = f.sendcmd("SITE CHMOD 600 data.bin")
    out["sha256"] = f.sendcmd("XSHA256 data.bin")
    out["sha256_expected"] = hashlib.sha256(data).hexdigest()
    out["rename"] = f.rename("data.bin", "renamed.bin")
    out["delete"] = f.delete("renamed.bin")
    out["cdup"] = f.sendcmd("CDUP")
    out["feat"] = f.sendcmd("FEAT")
    out["opts"] = f.sendcmd("OPTS UTF8 ON")
    out["unknown"] = code_of(lambda: f.sendcmd("XYZZY"))
    out["quit"] = f.quit()
    return out


def tls_reuse(host, port, user, password, _work):
    out = {}
    for name, cls in (("default", ftplib.FTP_TLS), ("reusing", ReusingFTP_TLS)):
        f = cls(context=context())
        f.connect(host, port, timeout=20)
        f.login(user, password)
        f.prot_p()
        f.storlines("STOR %s.txt" % name, io.BytesIO(b"x\n")) if name == "reusing" else None
        try:
            out[name] = sorted(f.nlst())
        except ftplib.all_errors as error:
            out[name] = str(error)
        f.quit()
    return out


def tls_clear_data(host, port, user, password, _work):
    f = ftplib.FTP_TLS(context=context())
    f.connect(host, port, timeout=20)
    f.login(user, password)
    out = {"prot_c": code_of(lambda: f.prot_c())}
    try:
        f.nlst()
        out["nlst"] = "ok"
    except ftplib.all_errors as error:
        out["nlst"] = str(error)
    f.quit()
    return out


def login_code(host, port, user, password, _work):
    f = ftplib.FTP()
    f.connect(host, port, timeout=20)
    out = {"login": code_of(lambda: f.login(user, password))}
    f.close()
    return out


def login_code_tls(host, port, user, password, _work):
    f = ftplib.FTP_TLS(context=context())
    f.connect(host, port, timeout=20)
    out = {"login": code_of(lambda: f.login(user, password))}
    f.close()
    return out


def many_failures(host, port, user, password, _work):
    """Wrong passwords over FTPES until the server gives up on the connection."""
    f = ftplib.FTP_TLS(context=context())
    f.connect(host, port, timeout=20)
    f.auth()
    codes = []
    for _ in range(10):
        try:
            f.sendcmd("USER " + user)
            codes.append(f.sendcmd("PASS " + password)[:3])
        except ftplib.all_errors as error:
            codes.append(str(error)[:3] or type(error).__name__)
            if not str(error).startswith("530"):
                break
    f.close()
    return {"codes": codes}


def verbs(host, port, user, password, _work):
    """Every verb that reads or changes something, with the reply code each got."""
    f = ftplib.FTP()
    f.connect(host, port, timeout=20)
    f.login(user, password)
    out = {}
    out["LIST"] = code_of(lambda: f.retrlines("LIST", lambda _l: None))
    out["NLST"] = code_of(lambda: f.nlst())
    out["MLSD"] = code_of(lambda: list(f.mlsd()))
    out["RETR"] = code_of(lambda: f.retrbinary("RETR present.txt", lambda _b: None))
    out["SIZE"] = code_of(lambda: f.sendcmd("SIZE present.txt"))
    out["XSHA256"] = code_of(lambda: f.sendcmd("XSHA256 present.txt"))
    out["STOR"] = code_of(lambda: f.storbinary("STOR new.txt", io.BytesIO(b"new")))
    out["STOR-existing"] = code_of(lambda: f.storbinary("STOR present.txt", io.BytesIO(b"over")))
    out["APPE"] = code_of(lambda: f.storbinary("APPE present.txt", io.BytesIO(b"more")))
    out["MKD"] = code_of(lambda: f.sendcmd("MKD newdir"))
    out["RMD"] = code_of(lambda: f.rmd("emptydir"))
    out["RNFR/RNTO"] = code_of(lambda: f.rename("movable.txt", "moved.txt"))
    out["DELE"] = code_of(lambda: f.delete("deletable.txt"))
    out["MFMT"] = code_of(lambda: f.sendcmd("MFMT 20200102030405 present.txt"))
    out["SITE CHMOD"] = code_of(lambda: f.sendcmd("SITE CHMOD 600 present.txt"))
    f.quit()
    return out


def escape(host, port, user, password, _work):
    f = ftplib.FTP()
    f.connect(host, port, timeout=20)
    f.login(user, password)
    out = {}
    out["cwd_up"] = code_of(lambda: f.cwd("../../../.."))
    out["pwd"] = f.pwd()
    out["list_root"] = sorted(f.nlst())
    out["retr_passwd"] = code_of(lambda: f.retrbinary("RETR ../../../../../etc/passwd", lambda _b: None))
    out["retr_abs_passwd"] = code_of(lambda: f.retrbinary("RETR /etc/passwd", lambda _b: None))
    out["size_escape"] = code_of(lambda: f.sendcmd("SIZE ../../../etc/hostname"))
    out["cwd_etc"] = code_of(lambda: f.cwd("/etc"))
    out["stor_escape"] = code_of(lambda: f.storbinary("STOR ../../escaped.txt", io.BytesIO(b"x")))
    out["mkd_escape"] = code_of(lambda: f.sendcmd("MKD ../../escaped-dir"))
    out["rename_escape"] = code_of(lambda: f.rename("present.txt", "../../../escaped-rename.txt"))
    out["nul"] = code_of(lambda: f.sendcmd("SIZE pre\x00sent.txt"))
    out["after"] = sorted(f.nlst("/"))
    f.quit()
    return out


def spoofed_data(host, port, user, password, _work):
    """PASV, then a connection from 127.0.0.2 to the passive port (refused), then the client's own."""
    f = ftplib.FTP()
    f.connect(host, port, timeout=20)
    f.login(user, password)
    f.sendcmd("TYPE I")
    reply = f.sendcmd("PASV")
    pasv_host, pasv_port = ftplib.parse227(reply)
    thief = socket.socket()
    thief.bind(("127.0.0.2", 0))
    thief.settimeout(5)
    thief.connect((pasv_host, pasv_port))
    try:
        stolen = thief.recv(100)
        thief_result = "closed" if stolen == b"" else "got data"
    except (ConnectionResetError, socket.timeout) as error:
        thief_result = "reset" if isinstance(error, ConnectionResetError) else "timeout"
    thief.close()
    own = socket.create_connection((pasv_host, pasv_port), timeout=10)
    f.putcmd("RETR present.txt")
    first = f.getresp()
    got = b""
    while True:
        chunk = own.recv(65536)
        if not chunk:
            break
        got += chunk
    own.close()
    done = f.getresp()
    f.quit()
    return {"thief": thief_result, "first": first, "done": done, "data": got.decode()}


def active_policy(host, port, user, password, _work):
    f = ftplib.FTP()
    f.connect(host, port, timeout=20)
    f.login(user, password)
    out = {
        "other_host": code_of(lambda: f.sendcmd("PORT 127,0,0,2,195,80")),
        "privileged": code_of(lambda: f.sendcmd("PORT 127,0,0,1,0,22")),
        "eprt_other": code_of(lambda: f.sendcmd("EPRT |1|10.1.2.3|50000|")),
    }
    f.set_pasv(False)
    got = io.BytesIO()
    f.retrbinary("RETR present.txt", got.write)
    out["active_retr"] = got.getvalue().decode()
    f.quit()
    return out


def abort(host, port, user, password, _work):
    """ABOR during a download: 426 for the transfer, then 226, and the connection goes on."""
    f = ftplib.FTP()
    f.connect(host, port, timeout=20)
    f.login(user, password)
    conn = f.transfercmd("RETR big.bin")
    conn.recv(65536)
    # ftplib.abort sends IAC IP IAC DM (as urgent data) and then ABOR.
    f.sock.sendall(b"\xff\xf4\xff\xf2ABOR\r\n")
    first = f.getmultiline()
    second = f.getmultiline()
    conn.close()
    after = f.sendcmd("NOOP")
    f.quit()
    return {"first": first, "second": second, "after": after}


def pipelined_auth(host, port, _user, _password, _work):
    """AUTH TLS with a command pipelined behind it in clear text: it must not run."""
    raw = socket.create_connection((host, port), timeout=10)
    raw.recv(4096)
    raw.sendall(b"AUTH TLS\r\nUSER injected\r\n")
    time.sleep(0.3)
    first = raw.recv(4096).decode()
    tls = context().wrap_socket(raw, server_hostname=host)
    tls.sendall(b"NOOP\r\n")
    after = tls.recv(4096).decode()
    tls.sendall(b"QUIT\r\n")
    tls.recv(4096)
    tls.close()
    return {"first": first, "after": after}


def garbage(host, port, _user, _password, _work):
    """Garbage, an over-long line and a binary blob: answered, never fatal."""
    raw = socket.create_connection((host, port), timeout=10)
    raw.recv(4096)
    raw.sendall(b"\x00\x01\x02\xfe\xff garbage\r\n")
    a = raw.recv(4096).decode(errors="replace")
    raw.sendall(b"A" * 100000 + b"\r\n")
    time.sleep(0.3)
    b = raw.recv(4096).decode(errors="replace")
    raw.sendall(b"NOOP\r\n")
    c = raw.recv(4096).decode(errors="replace")
    raw.close()
    return {"garbage": a, "long": b, "noop": c}


SCENARIOS = {name: fn for name, fn in globals().items() if callable(fn) and name in (
    "plain", "many_failures", "tls_reuse", "tls_clear_data", "login_code", "login_code_tls", "verbs", "escape", "spoofed_data",
    "active_policy", "abort", "pipelined_auth", "garbage",
)}

if __name__ == "__main__":
    scenario, host, port, user, password = sys.argv[1:6]
    work = sys.argv[6] if len(sys.argv) > 6 else "."
    print(json.dumps(SCENARIOS[scenario](host, int(port), user, password, work)))
