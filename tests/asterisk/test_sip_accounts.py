"""SIP accounts: parsing and validation with clear errors, the PJSIP include, and its file mode."""
from __future__ import annotations

import ipaddress
import socket
import stat
from pathlib import Path

import pytest

from flowengine.asterisk.instance import free_port
from flowengine.asterisk.sip_accounts import (
    RTP_END,
    RTP_START,
    SipAccountError,
    SipAccounts,
    SipBind,
    TrustedPeer,
    dial_help,
    parse_account,
    parse_bind,
    parse_trusted,
    reachable_host,
)


def sections(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """The rendered include as {(section, type or template): {key: value}}."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("["):
            name, _, template = line[1:].partition("]")
            current = {}
            out[(name, template.strip("()") or "?")] = current
        elif " = " in line and not line.startswith(";"):
            key, _, value = line.partition(" = ")
            current[key] = value
    for (name, kind), values in list(out.items()):
        if kind == "?":
            out[(name, values["type"])] = out.pop((name, kind))
    return out


def test_an_account_is_name_colon_password_and_the_password_may_hold_colons() -> None:
    account = parse_account("alice:pa:ss")
    assert (account.name, account.password) == ("alice", "pa:ss")
    assert "pa:ss" not in repr(account)


@pytest.mark.parametrize(("text", "message"), [
    ("alice", "SIP account 'alice' has no password: write NAME:PASSWORD"),
    ("alice:", "SIP account 'alice': the password is empty"),
    ("al ice:pw", "SIP name 'al ice' is not usable"),
    ("[alice]:pw", "SIP name '[alice]' is not usable"),
    (":pw", "SIP name '' is not usable"),
    ("transport-udp:pw", "SIP name 'transport-udp' is reserved"),
    ("alice:pw;x", "SIP account 'alice': the password may not contain spaces, control characters or ';'"),
    ("alice:pw x", "SIP account 'alice': the password may not contain spaces"),
])
def test_a_bad_account_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SipAccountError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        parse_account(text)


def test_a_trusted_peer_is_name_equals_address_or_network() -> None:
    assert parse_trusted("pbx=192.0.2.10") == TrustedPeer("pbx", "192.0.2.10/32")
    assert parse_trusted("lan=10.1.2.3/16").address == "10.1.0.0/16"
    with pytest.raises(SipAccountError, match=r"'pbx.example.com' is not an IP address or network"):
        parse_trusted("pbx=pbx.example.com")
    with pytest.raises(SipAccountError, match="write NAME=ADDRESS"):
        parse_trusted("192.0.2.10")
    with pytest.raises(SipAccountError, match="not an IP address"):
        parse_trusted("pbx=10.0.0.0/33")


def test_names_are_unique_across_accounts_and_trusted_peers() -> None:
    with pytest.raises(SipAccountError, match="SIP name 'Office' is given twice"):
        SipAccounts.parse(["office:pw"], ["Office=192.0.2.1"])


def test_the_bind_is_an_address_and_a_port_outside_the_rtp_range() -> None:
    assert parse_bind("0.0.0.0") == SipBind("0.0.0.0", None)
    assert parse_bind("192.168.1.20:5060") == SipBind("192.168.1.20", 5060)
    with pytest.raises(SipAccountError, match=r"SIP port 30000 is inside the RTP port range 20000-39999"):
        parse_bind("0.0.0.0:30000")
    with pytest.raises(SipAccountError, match="'pbx' is not an IPv4 address"):
        parse_bind("pbx:5060")
    with pytest.raises(SipAccountError, match="the port 'sip' is not a number"):
        parse_bind("127.0.0.1:sip")
    with pytest.raises(SipAccountError, match="SIP port 70000 is not a port number"):
        parse_bind("127.0.0.1:70000")


def test_the_include_has_endpoint_auth_aor_per_account_and_endpoint_identify_per_peer() -> None:
    text = SipAccounts.parse(["alice:s3cret"], ["office=192.0.2.0/24"]).render("flowengine-inbound")
    got = sections(text)
    assert set(got) == {("alice", "flowengine-endpoint"), ("alice", "auth"), ("alice", "flowengine-aor"),
                        ("office", "flowengine-endpoint"), ("office", "identify")}
    assert got[("alice", "flowengine-endpoint")] == {"context": "flowengine-inbound", "auth": "alice",
                                                      "aors": "alice"}
    assert got[("alice", "auth")] == {"type": "auth", "auth_type": "userpass", "username": "alice",
                                      "password": "s3cret"}
    # no auth, and found by its address only: never by the user name a request claims
    assert got[("office", "flowengine-endpoint")] == {"context": "flowengine-inbound", "identify_by": "ip"}
    assert got[("office", "identify")] == {"type": "identify", "endpoint": "office", "match": "192.0.2.0/24"}


def test_the_endpoint_template_carries_the_codecs_and_the_nat_settings() -> None:
    template = (Path(__file__).parents[2] / "asterisk-conf" / "pjsip.conf").read_text()
    endpoint = template.split("[flowengine-endpoint](!)")[1].split("\n\n")[0]
    for line in ("disallow = all", "allow = ulaw,alaw", "direct_media = no", "rtp_symmetric = yes",
                 "force_rport = yes", "rewrite_contact = yes"):
        assert line in endpoint
    assert "#tryinclude pjsip_accounts.conf" in template


def test_the_files_holding_passwords_are_the_owners_only(tmp_path: Path) -> None:
    accounts = SipAccounts.parse(["alice:s3cret"])
    target = tmp_path / "pjsip_accounts.conf"
    target.write_text("old")
    target.chmod(0o644)  # replaced, not rewritten in place: the old mode does not survive
    accounts.write(target, "ctx")
    accounts.save(tmp_path)
    for path in (target, tmp_path / "sip_accounts.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "password = s3cret" in target.read_text()
    assert SipAccounts.load(tmp_path) == accounts
    assert SipAccounts.load(tmp_path / "none") == SipAccounts()


def test_what_is_printed_never_holds_a_password() -> None:
    accounts = SipAccounts.parse(["alice:s3cret"], ["office=192.0.2.7"])
    assert accounts.public() == {"accounts": ["alice"], "trusted": [{"name": "office", "address": "192.0.2.7/32"}]}
    text = dial_help("192.0.2.1", 5060, accounts)
    assert "sip:1000@192.0.2.1:5060" in text and "user alice" in text and "ulaw" in text
    assert "s3cret" not in text


def test_free_ports_stay_out_of_the_rtp_range() -> None:
    # the kernel's ephemeral range overlaps 20000-39999 by a quarter: 200 picks would land there ~50 times
    picked = [free_port("127.0.0.1", socket.SOCK_DGRAM) for _ in range(200)]
    assert not [p for p in picked if RTP_START <= p <= RTP_END]


def test_a_softphone_on_another_machine_is_told_an_address_it_can_reach() -> None:
    assert reachable_host("192.0.2.5") == "192.0.2.5"
    anywhere = reachable_host("0.0.0.0")
    assert anywhere != "0.0.0.0" and ipaddress.IPv4Address(anywhere)


def test_short_passwords_are_flagged_only_where_the_network_can_reach_them() -> None:
    accounts = SipAccounts.parse(["alice:short", "bob:a-long-enough-one"])
    assert accounts.warnings("127.0.0.1") == []
    expected = ("SIP account 'alice': a password under 12 characters on 0.0.0.0 is soon guessed by SIP "
                "scanners; use a longer one")
    assert accounts.warnings("0.0.0.0") == [expected]
