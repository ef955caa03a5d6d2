"""MIDI: the process that reads a MIDI source (`bridge`), and port choice (`ports`).

The engine never opens MIDI itself: a MIDI client in the supervisor or the audio I/O would
put a library's threads (JACK's, ALSA's) into a process the music depends on. The bridge is
a process of its own that the supervisor starts; it turns each event into a dated OSC
bundle, so an event is stamped, logged and replayed like any command, and its death
costs MIDI, never sound.
"""
