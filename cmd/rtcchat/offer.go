package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newOfferCmd) }

func newOfferCmd() *cobra.Command {
	var answerFile string
	var f *rtcFlags
	var cf *chatFlags
	cmd := &cobra.Command{
		Use:   "offer",
		Short: "Start a conversation: print an offer blob, read the answer, chat",
		Long: `Gathers this machine's network addresses (asking STUN servers for the public
one), prints them as an offer blob (text and QR code) to send to your peer, then
reads the answer blob they send back (pasted, or --answer-file), connects, runs
the post-quantum handshake and opens the end-to-end encrypted chat.

In a terminal the chat is a full-screen UI; otherwise (or with --plain or
--json) each input line is a message or a command (/help) and each event is a
line on standard output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return newChatRun(cmd, f, cf).offer(answerFile)
		},
	}
	f = addRTCFlags(cmd)
	cf = addChatFlags(cmd)
	cmd.Flags().StringVar(&answerFile, "answer-file", "", "read the answer blob from this file (waits until it appears) instead of the terminal")
	return cmd
}

// fileWaiter reads a file once it exists and is not empty, polling for it:
// a script or another program writes the answer there.
type fileWaiter struct {
	ctx  context.Context
	path string
	r    io.Reader
}

func (w *fileWaiter) Read(p []byte) (int, error) {
	for w.r == nil {
		b, err := os.ReadFile(w.path)
		if err == nil && len(b) > 0 {
			w.r = bytes.NewReader(b)
			break
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		select {
		case <-w.ctx.Done():
			return 0, w.ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return w.r.Read(p)
}
