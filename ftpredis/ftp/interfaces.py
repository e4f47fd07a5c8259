# -*- test-case-name: tests.test_ban -*-
"""The seams between the FTP session and the features that decide about it.

:class:`ISessionPolicy` is what a policy such as mod_ban's implements; the factory is given
one (or none) when it is built and the session calls it at the points ProFTPD's modules
are called.  :class:`IPolicySession` is all a policy may see of, or do to, a session.
Neither side imports the other's modules.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IPolicySession(Interface):
    """A control connection, as a policy sees it."""

    peer_host = Attribute("The client's address (IPv4-mapped addresses as plain IPv4).")
    local_host = Attribute("The address the client connected to.")
    original_user = Attribute("The USER argument as sent, or None before USER.")
    user = Attribute("The name the session logged in as (or is logging in as), or None.")
    connection_class = Attribute("The session's class name, or None.")
    session = Attribute("The session's ftpredis.records.events.Session.")
    disconnected = Attribute("True once the connection is closed.")
    end_reason = Attribute("Why the session is ending (DISCONNECT's reason), or None.")

    def end_session(reason, reply=None):
        """End the session now: ``reason`` is the DISCONNECT record's end reason; a
        ``reply`` text is sent as ``530 <reply>`` first and becomes the DISCONNECT record's
        response (code 530 and that message)."""

    def policy_event(event, user=None):
        """Report a policy event (ProFTPD's ban event names, e.g. ``TLSHandshake``) to the
        session's policy; True when the policy is ending the session."""


class ISessionPolicy(Interface):
    """Decisions about sessions (mod_ban's hooks).  Every method gets the
    :class:`IPolicySession`."""

    def on_connect(session):
        """Before the banner; True when the session was refused (and is being ended)."""

    def check_user(session, name):
        """At USER; raises ftpredis.ftp.replies.Reply (530) to refuse the name."""

    def on_command(session, verb, known):
        """Every command line, before it runs; ``known`` is False for unknown verbs."""

    def on_event(session, event, user=None):
        """A countable event (failed login, timeout, ...); True when the session is
        being ended because of it."""
