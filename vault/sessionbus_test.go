package vault

import (
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Without a session bus the system keyring reports that it is unavailable
// and starts nothing: no dbus-daemon is left behind (godbus would otherwise
// autolaunch one with dbus-launch on every call).
func TestSystemKeyringStartsNoBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("D-Bus session bus: Linux")
	}
	if sessionBusKnown() {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
		if sessionBusKnown() {
			t.Skip("/run/user/UID/bus exists: a session bus is running for this user")
		}
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	before := countAutolaunched(t)
	k := SystemKeyring()
	if err := k.Set(KeyringService, "no-bus", "x"); !errors.Is(err, errNoSessionBus) {
		t.Fatalf("Set without a session bus: %v", err)
	}
	if _, err := k.Get(KeyringService, "no-bus"); !errors.Is(err, errNoSessionBus) {
		t.Fatalf("Get without a session bus: %v", err)
	}
	if err := k.Delete(KeyringService, "no-bus"); !errors.Is(err, errNoSessionBus) {
		t.Fatalf("Delete without a session bus: %v", err)
	}
	if err := ProbeKeyring(k); !errors.Is(err, ErrNoKeyring) || !strings.Contains(err.Error(), "D-Bus") {
		t.Fatalf("ProbeKeyring: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if after := countAutolaunched(t); after > before {
		t.Fatalf("%d dbus-daemon processes were started", after-before)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "autolaunch:")
	if sessionBusKnown() {
		t.Fatal("autolaunch: counts as a known bus")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	if !sessionBusKnown() {
		t.Fatal("an explicit address is not used")
	}
}

// countAutolaunched counts the dbus-daemons that dbus-launch starts.
func countAutolaunched(t *testing.T) int {
	out, err := exec.Command("ps", "-e", "-o", "args").Output()
	if err != nil {
		t.Skipf("ps: %v", err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "/usr/bin/dbus-daemon") && strings.Contains(l, "--fork") && strings.Contains(l, "--session") {
			n++
		}
	}
	return n
}
