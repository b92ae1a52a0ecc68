package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newOfferCmd) }

func newOfferCmd() *cobra.Command {
	var answerFile string
	var f *rtcFlags
	cmd := &cobra.Command{
		Use:   "offer",
		Short: "Start a connection: print an offer blob, read the answer, connect",
		Long: `Gathers this machine's network addresses (asking STUN servers for the public
one), prints them as an offer blob (text and QR code) to send to your peer, then
reads the answer blob they send back (pasted, or --answer-file) and connects.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			u := blobIO{in: cmd.InOrStdin(), out: cmd.OutOrStdout(), notes: cmd.ErrOrStderr(), withQR: !f.noQR}
			if answerFile != "" {
				u.in = &fileWaiter{ctx: ctx, path: answerFile}
			}
			c, err := offerFlow(ctx, cfg, nil, u, "")
			if err != nil {
				return err
			}
			defer c.Close()
			reportConnected(cmd.OutOrStdout(), c)
			if err := transportCheck(c, 10*time.Second); err != nil {
				return fmt.Errorf("connected, but the channel does not work: %w", err)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "The encrypted chat is not wired in yet; closing.")
			return nil
		},
	}
	f = addRTCFlags(cmd)
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
