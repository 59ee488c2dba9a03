"""The emulated Raspberry Pi: the device runtime on Debian arm64 under qemu user mode (``make pi-check``).

A device-emulation harness, not a benchmark (emulated timings are no speed): ``check`` drives it;
``rootfs`` builds the arm64 root from the Debian sources ``sources`` derives from the host's;
``wheels`` resolves the aarch64 wheels and installs them with the guest's pip; ``guest`` runs
programs as a Pi 4 or Pi 5; ``evaluate`` runs inside the guest; ``report`` writes pi.md/pi.json.
"""
