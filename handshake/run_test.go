package handshake

import (
	"errors"
	"fmt"
	"testing"
)

// Every error a check can raise maps to a specific Abort code, and the code
// read back by the peer names the same class of failure.
func TestAbortCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code byte
	}{
		{ErrTimeout, AbortTimeout},
		{ErrBlobMismatch, AbortBlobMismatch},
		{ErrChannelBinding, AbortBinding},
		{ErrDowngrade, AbortLevel},
		{ErrNoCommonLevel, AbortLevel},
		{ErrCommitment, AbortIdentity},
		{ErrPinMismatch, AbortIdentity},
		{ErrEd25519Signature, AbortSignature},
		{ErrFalconSignature, AbortSignature},
		{ErrFalconMissing, AbortSignature},
		{ErrTranscript, AbortTranscript},
		{ErrKeyConfirmation, AbortConfirmation},
		{ErrNonceCommitment, AbortConfirmation},
		{ErrMessageFormat, AbortFormat},
		{ErrMessageTooLarge, AbortFormat},
		{ErrLowOrderPoint, AbortFormat},
		{ErrMLKEMKey, AbortFormat},
		{errors.New("something else"), AbortInternal},
	} {
		wrapped := fmt.Errorf("context: %w", tc.err)
		if got := abortCode(wrapped); got != tc.code {
			t.Errorf("%v: code %d, want %d", tc.err, got, tc.code)
		}
		_, err := messageType(abortMessage(tc.code))
		if !errors.Is(err, ErrPeerAborted) {
			t.Errorf("abort %d read back as %v", tc.code, err)
		}
	}
	if _, err := messageType([]byte{Version, TypeAbort}); !errors.Is(err, ErrMessageFormat) {
		t.Fatalf("short abort: %v", err)
	}
}
