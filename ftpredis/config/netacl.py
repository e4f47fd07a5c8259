# -*- test-case-name: tests.test_netacl -*-
"""mod_core's ``Allow``/``Deny`` address lists: parsing one list and matching an address.

This module owns ProFTPD 1.3.8's network ACLs (its src/netacl.c and the ``set_allowdeny``
handler of modules/mod_core.c): how one word becomes a rule (``all``, ``none``, an
address, ``addr/bits``, a trailing-dot prefix such as ``192.168.1.``, an IP glob such as
``10.0.*.1``, a DNS name or DNS glob, each optionally negated with ``!``), and how one
``Allow``/``Deny`` line judges a client address (every negated rule must hold, then one
plain rule must match; ``none`` matches nothing).

ftpredis never resolves names (``UseReverseDNS`` is accepted and ignored), so it behaves
as ProFTPD with ``UseReverseDNS off``: a DNS name is compared with the client's address
text (so it never matches), and a DNS glob is skipped.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Optional, Tuple

ALL, NONE, IPMASK, IPMATCH, IPGLOB, DNSMATCH, DNSGLOB = (
    "all", "none", "ipmask", "ipmatch", "ipglob", "dnsmatch", "dnsglob")

_IPCHARS = set("0123456789ABCDEFabcdef.:")
_GLOB = re.compile(r"[{\[*?]")


class AclError(ValueError):
    """A word is no valid rule; the message says why."""


def _numeric(text: str):
    """The address ``text`` names, as ProFTPD's pr_netaddr_get_addr() reads a numeric
    one (inet_aton forms such as ``10.1`` included), or None."""
    try:
        info = socket.getaddrinfo(text, None, 0, 0, 0, socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(info[0][4][0].split("%", 1)[0])


def _v4(addr):
    """IPv4-mapped IPv6 addresses compare as the IPv4 address (pr_netaddr_ncmp)."""
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


@dataclass(frozen=True)
class NetAcl:
    """One rule of an Allow/Deny list; ``text`` is the word as written."""

    kind: str
    text: str
    negated: bool = False
    address: Optional[object] = None      # ipaddress address (IPMASK, IPMATCH)
    bits: int = 0                         # IPMASK's mask length
    pattern: Optional[str] = None         # IPGLOB/DNSGLOB/DNSMATCH

    def match(self, client) -> int:
        """pr_netacl_match(): 1 (matched), -1 (refused: ``none``, or a negated rule
        that matched) or 0 (no opinion)."""
        if self.kind == ALL:
            return 1
        if self.kind == NONE:
            return -1
        if self.kind == DNSGLOB:
            return 0        # UseReverseDNS off: ProFTPD skips DNS globs
        hit = False
        if self.kind == IPMASK:
            a, b = _v4(client), _v4(self.address)
            if a.version == b.version and self.bits <= a.max_prefixlen:
                net = ipaddress.ip_network("%s/%d" % (b, self.bits), strict=False)
                hit = a in net
        elif self.kind == IPMATCH:
            hit = _v4(client) == _v4(self.address)
        elif self.kind == IPGLOB:
            texts = [str(client)]
            if client.version == 6 and client.ipv4_mapped is not None:
                texts.append(str(client.ipv4_mapped))
            hit = any(fnmatch.fnmatchcase(t.lower(), self.pattern.lower()) for t in texts)
        elif self.kind == DNSMATCH:
            hit = str(client) == self.pattern   # the "DNS name" of an unresolved address
        if hit:
            return -1 if self.negated else 1
        return 1 if self.negated else 0


def create(word: str) -> NetAcl:
    """pr_netacl_create(): the rule one comma-separated word stands for."""
    text = word
    if not word:
        raise AclError("empty entry")
    if word.lower() == "all":
        return NetAcl(ALL, "all")
    if word.lower() == "none":
        return NetAcl(NONE, "none")
    negated = word.startswith("!")
    if "/" in word:
        head, _, mask = word.partition("/")
        if negated:
            head = head[1:]
        if not head or not set(head) <= _IPCHARS:
            raise AclError("'%s' is not an IP address" % head)
        address = _numeric(head)
        if address is None:
            raise AclError("'%s' is not an IP address" % head)
        # strtol(): an empty mask reads as 0, anything after the digits is an error.
        m = re.match(r"\s*([+-]?\d*)(.*)\Z", mask, re.S)
        digits, rest = m.group(1), m.group(2)
        if rest or digits in ("+", "-"):
            raise AclError("'%s' is not a mask length (ProFTPD takes /bits, not a "
                           "dotted netmask)" % mask)
        bits = int(digits) if digits else 0
        if bits < 0 or bits > address.max_prefixlen:
            raise AclError("mask length %s is more than %d" % (mask, address.max_prefixlen))
        return NetAcl(IPMASK, text, negated, address=address, bits=bits)
    if not set(word) <= (_IPCHARS | {"!"}):
        # Names, and IP globs (their glob characters are not IP characters).
        body = word[1:] if negated else word
        if _GLOB.search(body):
            if any(c.isalpha() and c not in "ABCDEFabcdef" for c in body):
                return NetAcl(DNSGLOB, text, negated, pattern=body)
            return NetAcl(IPGLOB, text, negated, pattern=body)
        if body.startswith("."):
            return NetAcl(DNSGLOB, text, negated, pattern="*" + body)
        return NetAcl(DNSMATCH, text, negated, pattern=body)
    body = word[1:] if negated else word
    if not body:
        raise AclError("empty entry")
    if "." not in body:
        if ":" not in body:
            return NetAcl(DNSMATCH, text, negated, pattern=body)
        address = _numeric(body)
        if address is None:
            raise AclError("'%s' is not an IPv6 address" % body)
        return NetAcl(IPMATCH, text, negated, address=address, pattern=body)
    if body.endswith("."):
        return NetAcl(IPGLOB, text, negated, pattern=body + "*")
    address = _numeric(body)
    if address is None:
        # ProFTPD would resolve a hex-letter name such as "cafe.be" here; ftpredis
        # resolves no names.
        raise AclError("'%s' is not an IP address" % body)
    return NetAcl(IPMATCH, text, negated, address=address)


def parse_list(args, name: str = "Allow") -> Tuple[NetAcl, ...]:
    """set_allowdeny(): an ``Allow``/``Deny`` line's words (after the directive name)
    as rules.  Raises AclError with ProFTPD's wording for a bad line."""
    args = list(args)
    while args and args[0].lower() == "from":
        args.pop(0)
    if args and args[0].lower() in ("!all", "!none"):
        raise AclError("the ! negation operator cannot be used with ALL/NONE")
    if args and args[0].lower() in ("all", "none"):
        return (create(args[0]),)       # the rest of the line is ignored, as ProFTPD does
    out = []
    for arg in args:
        for ent in arg.split(","):
            if not ent:
                continue
            if ent.lower() in ("all", "none"):
                out = []
                break
            try:
                out.append(create(ent))
            except AclError as e:
                raise AclError("bad ACL definition '%s': %s" % (ent, e))
        else:
            continue
        break
    if not out:
        raise AclError("syntax: %s [from] [all|none]|host|network[,...]" % name)
    return tuple(out)


def _negatives_pass(acls, client) -> bool:
    """check_ip_negative(): ProFTPD 1.3.8 fails the line on a negated rule's 1 (the
    address is not the one named) and on its -1 (it is): only a rule with no opinion
    (a DNS glob) lets the line go on, so a negated entry in effect refuses the line."""
    return all(a.match(client) == 0 for a in acls if a.negated)


def _positive(acls, client) -> bool:
    """check_ip_positive(): one plain rule matches; ``none`` stops the search."""
    for acl in acls:
        if acl.negated:
            continue
        r = acl.match(client)
        if r == 1:
            return True
        if r == -1:
            return False
    return False


def access(lines, client) -> bool:
    """check_ip_access(): whether the ``Allow`` (or ``Deny``) lines of one ``<Limit>``
    match ``client``: the lines are OR'd, but a line whose negated rules fail ends the
    check with False."""
    res = False
    for acls in lines:
        if not _negatives_pass(acls, client):
            return False
        if _positive(acls, client):
            res = True
    return res


def parse_from(args) -> Tuple[NetAcl, ...]:
    """mod_core's add_from(): a ``From`` line of a ``<Class>`` (no ``from`` keyword;
    ``all``/``none`` first stand alone, later they end the line)."""
    args = list(args)
    if args and args[0].lower() in ("all", "none"):
        return (create(args[0]),)
    out = []
    for arg in args:
        for ent in arg.split(","):
            if not ent:
                continue
            if ent.lower() in ("all", "none"):
                return tuple(out)
            try:
                out.append(create(ent))
            except AclError as e:
                raise AclError("bad ACL definition '%s': %s" % (ent, e))
    return tuple(out)


def class_satisfied(acls, satisfy: str, client) -> bool:
    """pr_class_satisfied(): ``Satisfy any`` (the default) wants one rule answering 1 (a
    negated rule answers 1 for every other address), ``Satisfy all`` every rule."""
    if not acls:
        return False
    if satisfy == "all":
        return all(a.match(client) > 0 for a in acls)
    return any(a.match(client) == 1 for a in acls)


def class_of(classes, client) -> Optional[str]:
    """pr_class_match_addr(): the first ``<Class>`` (in config order) the address
    satisfies, or None."""
    if client is None:
        return None
    for c in classes:
        if class_satisfied(c.acls, c.satisfy, client):
            return c.name
    return None


def client_address(host: Optional[str]):
    """The session's address text as an address (None when it is not one)."""
    if not host:
        return None
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
