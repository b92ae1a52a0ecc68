package chat

import (
	"crypto/tls"
	"sync"
	_ "unsafe" // for go:linkname
)

// Go's crypto/tls has no API to order TLS 1.3 cipher suites: a client lists
// AES-GCM first when the CPU has AES instructions, and the server follows the
// client's first choice. The project asks for TLS_CHACHA20_POLY1305_SHA256 to
// be preferred, so we move it to the front of the client's TLS 1.3 list, which
// crypto/tls exposes for exactly this kind of use (it is marked go:linkname in
// crypto/tls/defaults.go). The other suites stay as fallbacks; the negotiated
// suite is reported to the user and checked by the tests.
//
//go:linkname defaultCipherSuitesTLS13 crypto/tls.defaultCipherSuitesTLS13
var defaultCipherSuitesTLS13 []uint16

var preferOnce sync.Once

func preferChaCha20() {
	preferOnce.Do(func() {
		list := []uint16{tls.TLS_CHACHA20_POLY1305_SHA256}
		for _, s := range defaultCipherSuitesTLS13 {
			if s != tls.TLS_CHACHA20_POLY1305_SHA256 {
				list = append(list, s)
			}
		}
		defaultCipherSuitesTLS13 = list
	})
}
