package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// errNoSessionBus: on Linux and the BSDs the Secret Service is reached over
// the D-Bus session bus. Without one, go-keyring (through godbus) would
// "autolaunch" a bus with dbus-launch: a dbus-daemon that outlives rtcchat
// and is started again on every run. rtcchat instead treats the keyring as
// unavailable (and falls back to the passphrase-sealed file).
var errNoSessionBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and /run/user/UID/bus does not exist); rtcchat does not start one")

// sessionBusKnown reports whether a session bus address can be found the
// way godbus finds one before it falls back to autolaunch: the environment,
// or /run/user/UID/bus or /run/user/UID/dbus-session.
func sessionBusKnown() bool {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return true // Keychain / Credential Manager: no D-Bus
	}
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return true
	}
	dir := fmt.Sprintf("/run/user/%d", os.Getuid())
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// CheckSessionBus returns nil where the OS keyring needs no D-Bus session bus
// or one can be found, and the reason otherwise; callers of go-keyring check
// it first so that no bus is autolaunched (see errNoSessionBus).
func CheckSessionBus() error {
	if sessionBusKnown() {
		return nil
	}
	return errNoSessionBus
}
