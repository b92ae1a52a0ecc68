package main

import (
	"os"

	"github.com/rtcchat/rtcchat/vault"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newKeyProcCmd) }

// newKeyProcCmd is the hidden `rtcchat __keyproc`: the isolated key process
// that the chat process starts (vault.StartKeyProcess). It holds the identity
// secret keys and answers only the requests of docs/PROTOCOL.md §5.6 on
// stdin/stdout.
func newKeyProcCmd() *cobra.Command {
	return &cobra.Command{
		Use:    vault.KeyProcessCommand,
		Short:  "Isolated key process (started by rtcchat itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := dataHome(cmd)
			if err != nil {
				return err
			}
			// The keyring is consulted only for identities sealed with it,
			// or when the chat process asks for a new keyring-sealed one.
			return vault.ServeKeyProcess(os.Stdin, os.Stdout, home, vault.Options{Keyring: vault.SystemKeyring()})
		},
	}
}
