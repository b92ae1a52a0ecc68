package main

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/rtcchat/rtcchat/rtc"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newAnswerCmd) }

func newAnswerCmd() *cobra.Command {
	var f *rtcFlags
	cmd := &cobra.Command{
		Use:   "answer <offer blob | ->",
		Short: "Answer an offer: print the answer blob and wait for the connection",
		Long: `Reads your peer's offer blob (as arguments, or from standard input with -),
prints the answer blob (text and QR code) to send back, and waits for your peer
to paste it (up to --wait, 10 minutes by default).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			// A blob split by the shell or by line breaks arrives as several arguments.
			offer := strings.Join(args, "")
			if offer == "-" {
				if offer, err = readBlob(bufio.NewReader(cmd.InOrStdin())); err != nil {
					return err
				}
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			u := blobIO{out: cmd.OutOrStdout(), notes: cmd.ErrOrStderr(), withQR: !f.noQR}
			c, err := answerFlow(ctx, cfg, nil, u, offer)
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
	cmd.Flags().DurationVar(&f.wait, "wait", rtc.DefaultAnswerWait, "how long to wait for the peer to paste the answer")
	return cmd
}
