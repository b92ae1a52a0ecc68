package rtc

import (
	"syscall"
)

// setSockBufForce raises the socket buffers beyond net.core.rmem_max and
// wmem_max with SO_RCVBUFFORCE and SO_SNDBUFFORCE, which Linux allows a
// process with CAP_NET_ADMIN. Without the capability it does nothing.
func setSockBufForce(c any, size int) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		// The kernel doubles the value for its bookkeeping, as with SO_RCVBUF.
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size)
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, size)
	})
}
