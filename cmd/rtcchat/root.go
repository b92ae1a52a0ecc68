package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "rtcchat",
		Short: "Serverless, post-quantum, end-to-end encrypted peer-to-peer chat",
		Long: `rtcchat connects two people directly, with no server in between.

  1. One of you runs:      rtcchat offer
     and sends the printed blob to the other (chat, mail, QR code).
  2. The other runs:       rtcchat answer <blob>
     and sends the printed answer blob back.
  3. The first pastes the answer; you are connected and can chat.

Every session is end-to-end encrypted with a hybrid (X25519 + ML-KEM-1024)
key exchange, authenticated with Ed25519 + FALCON-1024 identity keys.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd())
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	for _, hook := range rootHooks {
		hook(root)
	}
	return root
}

// extraCommands lets each command file register itself.
var extraCommands []func() *cobra.Command

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of rtcchat",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := version
			if v == "dev" {
				if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v = bi.Main.Version
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rtcchat %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
