"""Sessions, one home: scripts, session logs, snapshots, recordings, replay, offline render.

The shell and the CLI both call these; only the shell prints (what they say goes through a
`write` callable).
"""
