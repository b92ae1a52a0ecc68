package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rtcchat/rtcchat/rtc"
	"github.com/spf13/cobra"
)

// rtcFlags are the transport flags of `rtcchat offer` and `rtcchat answer`.
type rtcFlags struct {
	stun       []string
	turn       []string
	turnUser   string
	turnPass   string
	loopback   bool
	interfaces []string
	networks   []string
	ports      string
	gather     time.Duration
	wait       time.Duration
	peerLost   time.Duration
	noQR       bool
}

func addRTCFlags(cmd *cobra.Command) *rtcFlags {
	f := &rtcFlags{}
	fs := cmd.Flags()
	fs.StringArrayVar(&f.stun, "stun", append([]string(nil), rtc.DefaultSTUN...), "STUN server URL (repeatable); `none` for no STUN server")
	fs.StringArrayVar(&f.turn, "turn", nil, "TURN relay, turn:USER:PASSWORD@host:port[?transport=udp|tcp] or turns:... (repeatable)")
	fs.StringVar(&f.turnUser, "turn-user", "", "TURN username for --turn URLs without credentials")
	fs.StringVar(&f.turnPass, "turn-pass", "", "TURN password for --turn URLs without credentials")
	fs.BoolVar(&f.loopback, "loopback", false, "also offer loopback addresses (two peers on one machine, tests)")
	fs.StringArrayVar(&f.interfaces, "interface", nil, "use only this network interface (repeatable)")
	fs.StringArrayVar(&f.networks, "network", nil, "network types to use: udp4, udp6, tcp4, tcp6 (repeatable; default udp4 and udp6)")
	fs.StringVar(&f.ports, "ports", "", "local UDP port range MIN-MAX (for firewalls)")
	fs.DurationVar(&f.gather, "gather-timeout", rtc.DefaultGatherTimeout, "how long to gather addresses from STUN and TURN servers")
	fs.BoolVar(&f.noQR, "no-qr", false, "do not show blobs as QR codes")
	fs.DurationVar(&f.peerLost, "peer-timeout", rtc.DefaultFailedTimeout, "how long a connected peer may stay unreachable before the connection is declared lost")
	return f
}

// config turns the flags into an rtc.Config.
func (f *rtcFlags) config() (rtc.Config, error) {
	cfg := rtc.Config{
		Loopback:      f.loopback,
		Interfaces:    f.interfaces,
		Networks:      f.networks,
		GatherTimeout: f.gather,
		AnswerWait:    f.wait,
		FailedTimeout: f.peerLost,
	}
	if !noneGiven(f.stun) {
		for _, s := range f.stun {
			if !strings.HasPrefix(s, "stun:") && !strings.HasPrefix(s, "stuns:") {
				s = "stun:" + s // accept host:port
			}
			cfg.STUN = append(cfg.STUN, s)
		}
	}
	for _, s := range f.turn {
		t, err := rtc.ParseTURN(s, f.turnUser, f.turnPass)
		if err != nil {
			return cfg, err
		}
		cfg.TURN = append(cfg.TURN, t)
	}
	if f.ports != "" {
		lo, hi, ok := strings.Cut(f.ports, "-")
		min, err1 := strconv.ParseUint(lo, 10, 16)
		max, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil || min == 0 || min > max {
			return cfg, fmt.Errorf("--ports %q: want MIN-MAX, for example 50000-50100", f.ports)
		}
		cfg.PortMin, cfg.PortMax = uint16(min), uint16(max)
	}
	return cfg, nil
}

func noneGiven(ss []string) bool {
	for _, s := range ss {
		if strings.EqualFold(s, "none") {
			return true
		}
	}
	return false
}
