"""The one door to private names of ftpredis's dependencies (Twisted, pyOpenSSL, txredisapi).

Every use of a dependency's private attribute or a copy of its private code lives in a
module here, one module per topic.  Each module says which versions it was tested with;
``tests/test_compat.py`` checks every private name a shim relies on still exists, so an
upgrade that renames one fails the suite loudly instead of degrading at run time, and
``setup.cfg`` bounds each dependency at the newest version tested.
"""
