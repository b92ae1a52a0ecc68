package main

import (
	"strings"

	"github.com/rtcchat/rtcchat/rtc"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newAnswerCmd) }

func newAnswerCmd() *cobra.Command {
	var f *rtcFlags
	var cf *chatFlags
	cmd := &cobra.Command{
		Use:   "answer <offer blob | ->",
		Short: "Answer an offer: print the answer blob, wait for the connection, chat",
		Long: `Reads your peer's offer blob (as arguments, or from standard input with -),
prints the answer blob (text and QR code) to send back, waits for your peer to
paste it (up to --wait, 10 minutes by default), runs the post-quantum handshake
and opens the end-to-end encrypted chat.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A blob split by the shell or by line breaks arrives as several arguments.
			return newChatRun(cmd, f, cf).answer(strings.Join(args, ""))
		},
	}
	f = addRTCFlags(cmd)
	cf = addChatFlags(cmd)
	cmd.Flags().DurationVar(&f.wait, "wait", rtc.DefaultAnswerWait, "how long to wait for the peer to paste the answer")
	return cmd
}
