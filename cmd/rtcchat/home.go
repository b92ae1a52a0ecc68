package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rtcchat/rtcchat/vault"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// rootHooks run on the root command after the subcommands are added
// (root.go calls them); each command file may add persistent flags here.
var rootHooks []func(root *cobra.Command)

// The root command's persistent --home flag: the data directory (keys/,
// contacts, logs/). Every command reads it with dataHome(cmd) (or
// cmd.Flags().Lookup("home")); it is bound to no package-level variable, so
// root commands built concurrently (tests) do not share state.
func init() {
	rootHooks = append(rootHooks, func(root *cobra.Command) {
		root.PersistentFlags().String("home", "",
			"data directory for keys, contacts and logs (default $"+vault.HomeEnv+", or the OS config directory/rtcchat)")
	})
}

// dataHome returns the data directory: --home, else $RTCCHAT_HOME, else
// os.UserConfigDir()/rtcchat.
func dataHome(cmd *cobra.Command) (string, error) {
	if f := cmd.Flags().Lookup("home"); f != nil && f.Value.String() != "" {
		return f.Value.String(), nil
	}
	return vault.DefaultHome()
}

// openVault opens the data directory with the OS keyring when one works
// (see vault.AvailableKeyring; RTCCHAT_NO_KEYRING=1 turns it off).
func openVault(cmd *cobra.Command) (*vault.Vault, error) {
	home, err := dataHome(cmd)
	if err != nil {
		return nil, err
	}
	kr, _ := vault.AvailableKeyring()
	return vault.Open(home, vault.Options{Keyring: kr})
}

// askPassphrase returns a vault.Passphrase that takes the passphrase from
// the environment variable env, or reads it from the terminal without echo
// (twice when confirm is set). Prompts go to notes.
func askPassphrase(env string, in *os.File, notes io.Writer) vault.Passphrase {
	return func(prompt string, confirm bool) ([]byte, error) {
		if p, ok := os.LookupEnv(env); ok {
			if p == "" {
				return nil, fmt.Errorf("%s is set but empty", env)
			}
			return []byte(p), nil
		}
		fd := int(in.Fd())
		if !term.IsTerminal(fd) {
			return nil, fmt.Errorf("a passphrase is needed: set %s or run in a terminal", env)
		}
		fmt.Fprintf(notes, "%s: ", prompt)
		p, err := term.ReadPassword(fd)
		fmt.Fprintln(notes)
		if err != nil {
			return nil, err
		}
		if !confirm {
			return p, nil
		}
		if len(p) == 0 {
			return nil, errors.New("empty passphrase")
		}
		fmt.Fprint(notes, "Repeat it: ")
		p2, err := term.ReadPassword(fd)
		fmt.Fprintln(notes)
		if err != nil {
			return nil, err
		}
		same := bytes.Equal(p, p2)
		clear(p2)
		if !same {
			clear(p)
			return nil, errors.New("the two passphrases differ")
		}
		return p, nil
	}
}
