package handshake

import (
	"context"
	"errors"
	"fmt"
)

// Transport is the minimal message transport the handshake runs over: an
// ordered, reliable channel of whole messages (for example an rtc.Conn).
// Recv must return when ctx is done.
type Transport interface {
	Send(msg []byte) error
	Recv(ctx context.Context) ([]byte, error)
}

// Run performs the whole handshake over t and returns its result. The
// handshake as a whole is bounded by cfg.Timeout (DefaultTimeout if zero) and
// by ctx. On any failure Run tells the peer with a best-effort Abort message
// (PROTOCOL.md §2.4) and returns an error wrapping one of the package's Err
// values; nothing is returned that a caller could mistake for a session.
func Run(ctx context.Context, cfg Config, t Transport) (*Result, error) {
	h, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return h.Run(ctx, t)
}

// Run drives h over t until it completes or fails (see the function Run).
func (h *Handshake) Run(ctx context.Context, t Transport) (*Result, error) {
	timeout := h.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := h.run(ctx, t)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || (ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded)) {
			err = fmt.Errorf("%w after %v: %w", ErrTimeout, timeout, err)
		}
		h.fail()
		if !errors.Is(err, ErrPeerAborted) {
			_ = t.Send(abortMessage(abortCode(err)))
		}
		return nil, err
	}
	return res, nil
}

func (h *Handshake) run(ctx context.Context, t Transport) (*Result, error) {
	if h.cfg.Role == Initiator && h.st == stateStart {
		m, err := h.Start()
		if err != nil {
			return nil, err
		}
		if err := t.Send(m); err != nil {
			return nil, fmt.Errorf("handshake: sending Init: %w", err)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		msg, err := t.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("waiting for the peer: %w", ctx.Err())
			}
			return nil, fmt.Errorf("handshake: receiving: %w", err)
		}
		reply, done, err := h.Handle(msg)
		if err != nil {
			return nil, err
		}
		if reply != nil {
			if err := t.Send(reply); err != nil {
				return nil, fmt.Errorf("handshake: sending: %w", err)
			}
		}
		if done {
			return h.Result()
		}
	}
}

// abortCode maps an error to the Abort code sent to the peer.
func abortCode(err error) byte {
	for _, c := range []struct {
		err  error
		code byte
	}{
		{ErrTimeout, AbortTimeout},
		{ErrBlobMismatch, AbortBlobMismatch},
		{ErrChannelBinding, AbortBinding},
		{ErrDowngrade, AbortLevel},
		{ErrNoCommonLevel, AbortLevel},
		{ErrUnknownLevel, AbortLevel},
		{ErrCommitment, AbortIdentity},
		{ErrPinMismatch, AbortIdentity},
		{ErrEd25519PublicKey, AbortIdentity},
		{ErrFalconPublicKey, AbortIdentity},
		{ErrIdentityEncoding, AbortIdentity},
		{ErrEd25519Signature, AbortSignature},
		{ErrFalconSignature, AbortSignature},
		{ErrFalconMissing, AbortSignature},
		{ErrTranscript, AbortTranscript},
		{ErrKeyConfirmation, AbortConfirmation},
		{ErrNonceCommitment, AbortConfirmation},
		{ErrMessageFormat, AbortFormat},
		{ErrMessageTooLarge, AbortFormat},
		{ErrMessageVersion, AbortFormat},
		{ErrUnexpectedMessage, AbortFormat},
		{ErrMLKEMKey, AbortFormat},
		{ErrMLKEMCiphertext, AbortFormat},
		{ErrLowOrderPoint, AbortFormat},
		{ErrReflection, AbortFormat},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return AbortInternal
}
