"""The pure parts of ZooKeeper master detection: the URL, the leader's znode, MasterInfo → URL."""

from __future__ import annotations

import json
import socket

import pytest

from scheduler.config import ConfigError, load_settings
from scheduler.mesos.master_detector import (
    DetectorView,
    MasterInfoError,
    ZkState,
    ZkUrlError,
    describe_problem,
    leader_child,
    master_url_from_info,
    parse_zk_url,
)

# A MasterInfo as Mesos 1.11 writes it to json.info_ znodes (JSON::protobuf of the message).
MASTER_INFO = {
    "id": "c1a7e3b2-8a38-4a5e-9d7b-2f1f1c0b9e11",
    "ip": int.from_bytes(socket.inet_aton("10.0.0.7"), "little"),
    "port": 5050,
    "pid": "master@10.0.0.7:5050",
    "hostname": "m1.example",
    "version": "1.11.0",
    "address": {"hostname": "m1.example", "ip": "10.0.0.7", "port": 5050},
}


def info(**changes) -> bytes:
    document = json.loads(json.dumps(MASTER_INFO))
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return json.dumps(document).encode()


# --- the URL ---


def test_servers_path_and_digest_credentials_are_split_as_mesos_does():
    url = parse_zk_url("zk://scale:s3cr@t@zk1:2181,zk2:2182,[::1]:2183/mesos/prod")
    assert url.servers == (("zk1", 2181), ("zk2", 2182), ("[::1]", 2183))
    assert url.hosts == "zk1:2181,zk2:2182,[::1]:2183"
    assert url.path == "/mesos/prod"
    assert (url.username, url.password) == ("scale", "s3cr@t")  # the last '@' ends the credentials
    assert url.auth_data == [("digest", "scale:s3cr@t")]
    assert "s3cr" not in url.display() and url.display().startswith("zk://scale:****@zk1:2181")


def test_port_defaults_to_2181_and_no_credentials_means_no_auth():
    url = parse_zk_url("zk://zk1/mesos/")
    assert url.servers == (("zk1", 2181),) and url.path == "/mesos"
    assert url.auth_data == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://zk1:2181/mesos", "zk://"),
        ("zk://zk1:2181", "no znode path"),
        ("zk://zk1:2181/", "must not be '/'"),  # Mesos refuses a '/' chroot too
        ("zk://zk1:2181,/mesos", "empty server"),
        ("zk://zk1:99999/mesos", "port"),
        ("zk://zk1:x/mesos", "port"),
        ("zk://zk 1:2181/mesos", "host"),
        ("zk://zk1:2181/me sos", "path"),
        ("zk://zk1:2181/mesos/../etc", "path"),
        ("zk://:pw@zk1:2181/mesos", "credentials"),
        ("zk://userpw@zk1:2181/mesos", "credentials"),
        ("zk://" + ",".join(["h:1"] * 65) + "/mesos", "more than 64"),
        ("zk://h:1/" + "a" * 5000, "longer than"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url, why):
    with pytest.raises(ZkUrlError) as caught:
        parse_zk_url(url)
    assert why in str(caught.value)


def test_the_setting_accepts_zk_and_never_echoes_the_password():
    settings = load_settings({"MESOS_MASTER_URL": "zk://u:topsecret@zk1:2181,zk2:2181/mesos"}, config_file="/dev/null")
    assert settings.mesos_master_url == "zk://u:topsecret@zk1:2181,zk2:2181/mesos"
    assert "topsecret" in settings.secret_values()  # so the log filter masks it
    with pytest.raises(ConfigError) as caught:
        load_settings({"MESOS_MASTER_URL": "zk://u:topsecret@zk1:2181,zk2:x/mesos"}, config_file="/dev/null")
    assert "MESOS_MASTER_URL" in str(caught.value) and "topsecret" not in str(caught.value)
    with pytest.raises(ConfigError, match="MESOS_MASTER_SCHEME"):
        load_settings({"MESOS_MASTER_SCHEME": "ftp"}, config_file="/dev/null")


# --- the leader ---


def test_the_lowest_sequence_leads_and_other_children_are_not_members():
    children = ["log_replicas", "json.info_0000000012", "json.info_0000000003", "json.info_0000000007"]
    assert leader_child(children) == "json.info_0000000003"
    assert leader_child(["log_replicas"]) is None
    assert leader_child([]) is None


def test_the_sequence_decides_not_the_name_order():
    # Mesos compares the numbers; an old-format member with a lower sequence still leads.
    assert leader_child(["json.info_0000000010", "info_0000000009"]) == "info_0000000009"
    assert leader_child(["json.info_0000000010", "json.info_0000000002"]) == "json.info_0000000002"


# --- MasterInfo ---


def test_address_hostname_comes_first():
    assert master_url_from_info(info()) == "http://m1.example:5050"
    assert master_url_from_info(info(), "https") == "https://m1.example:5050"


def test_then_address_ip_then_hostname_then_pid_then_uint32_ip():
    assert master_url_from_info(info(address={"ip": "10.0.0.7", "port": 5051})) == "http://10.0.0.7:5051"
    assert master_url_from_info(info(address=None)) == "http://m1.example:5050"
    assert master_url_from_info(info(address=None, hostname=None)) == "http://10.0.0.7:5050"
    assert master_url_from_info(info(address=None, hostname=None, pid=None)) == "http://10.0.0.7:5050"
    ipv6 = info(address={"ip": "fd00::7", "port": 5050}, hostname=None)
    assert master_url_from_info(ipv6) == "http://[fd00::7]:5050"


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        json.dumps({"id": "x"}).encode(),  # no host at all
        info(address={"hostname": "m1 evil/path", "port": 5050}, hostname="bad host", pid=None, ip=None),
        info(address={"hostname": "m1.example", "port": 0}, port=None, pid="master@10.0.0.7"),
        b"{" + b'"pad": "' + b"x" * 70000 + b'"}',
    ],
)
def test_malformed_master_info_is_refused(data):
    with pytest.raises(MasterInfoError):
        master_url_from_info(data)


# --- the warning ---


def test_the_problem_line_says_what_and_since_when():
    where = "zk://zk1:2181/mesos"
    ok = DetectorView(ZkState.CONNECTED, 100.0, "http://m1:5050", None)
    assert describe_problem(ok, where, 130.0) is None
    suspended = DetectorView(ZkState.SUSPENDED, 100.0, "http://m1:5050", None)
    line = describe_problem(suspended, where, 130.0)
    assert "lost for 30 s" in line and "keeping master http://m1:5050" in line
    lost = DetectorView(ZkState.LOST, 100.0, "http://m1:5050", None)
    assert "expired" in describe_problem(lost, where, 101.0)
    none = DetectorView(ZkState.CONNECTED, 100.0, None, None)
    assert "no Mesos master" in describe_problem(none, where, 101.0)
    broken = DetectorView(ZkState.CONNECTED, 100.0, "http://m1:5050", "leader znode json.info_1: bad")
    assert "bad" in describe_problem(broken, where, 101.0)
