package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rtcchat/rtcchat/vault"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() { extraCommands = append(extraCommands, newContactsCmd) }

func newContactsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contacts",
		Short: "List, add, rename, verify and forget contacts (pinned identities)",
		Long: `Each contact is a name and a pinned identity fingerprint, with the time it was
first seen and whether you verified it (compared safety numbers or fingerprints
over a channel you trust). A known contact that shows up with a different
identity is refused with a warning until you re-verify it:

  rtcchat contacts verify NAME --fingerprint NEW-FINGERPRINT

Without a subcommand, lists the contacts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return listContacts(cmd) },
	}
	cmd.AddCommand(
		&cobra.Command{
			Use: "list", Short: "List contacts", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return listContacts(cmd) },
		},
		newContactsAddCmd(),
		&cobra.Command{
			Use: "rename OLD NEW", Short: "Rename a contact", Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				v, err := openVault(cmd)
				if err != nil {
					return err
				}
				defer v.Close()
				if err := v.Rename(args[0], args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Renamed %q to %q\n", args[0], args[1])
				return nil
			},
		},
		newContactsVerifyCmd(),
		&cobra.Command{
			Use: "forget NAME", Short: "Forget a contact, its pinned identity and the messages kept for it", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				v, err := openVault(cmd)
				if err != nil {
					return err
				}
				defer v.Close()
				c, ok, err := v.Contact(args[0])
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("no contact called %q", args[0])
				}
				if err := v.Forget(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Forgot %q (identity %s) and everything kept for it\n", c.Name, c.Fingerprint)
				return nil
			},
		},
	)
	return cmd
}

func contactStatus(c vault.Contact) string {
	switch {
	case c.Changed:
		return "IDENTITY CHANGED"
	case c.Verified:
		return "verified"
	}
	return "unverified"
}

func listContacts(cmd *cobra.Command) error {
	v, err := openVault(cmd)
	if err != nil {
		return err
	}
	defer v.Close()
	cs, err := v.Contacts()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if len(cs) == 0 {
		fmt.Fprintln(out, "No contacts yet. They are added on first contact (rtcchat offer/answer --name NAME)")
		fmt.Fprintln(out, "or with: rtcchat contacts add NAME FINGERPRINT")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tFIRST SEEN\tFINGERPRINT")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, contactStatus(c), c.FirstSeen.Local().Format(time.DateTime), c.Fingerprint)
	}
	tw.Flush()
	for _, c := range cs {
		if c.Changed {
			fmt.Fprintf(out, "\nWARNING: %q presented a different identity on %s:\n  pinned:    %s\n  presented: %s\n"+
				"Connections are refused until you compare it with %s over a channel you trust and run:\n  rtcchat contacts verify %q --fingerprint %s\n",
				c.Name, c.PendingSeen.Local().Format(time.DateTime), c.Fingerprint, c.Pending, c.Name, c.Name, c.Pending.Hex())
		}
	}
	return nil
}

func newContactsAddCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "add NAME FINGERPRINT",
		Short: "Pin a contact's identity from a fingerprint you received over a trusted channel (marks it verified)",
		Long: `Pins NAME to the identity FINGERPRINT (64 hex digits, spaces and colons
ignored: what the contact's rtcchat id shows, or the text of its QR code). Use it
only with a fingerprint you got from the person directly (in person, a call): the
contact is marked verified.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fp, err := vault.ParseFingerprint(strings.TrimPrefix(args[1], idQRPrefix))
			if err != nil {
				return err
			}
			v, err := openVault(cmd)
			if err != nil {
				return err
			}
			defer v.Close()
			if _, err := v.Pin(args[0], fp); err != nil {
				return err
			}
			if err := v.MarkVerified(args[0], fp); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Added %q, verified, identity %s\n", args[0], fp)
			return nil
		},
	}
}

func newContactsVerifyCmd() *cobra.Command {
	var fpText string
	var yes bool
	cmd := &cobra.Command{
		Use:   "verify NAME",
		Short: "Mark a contact verified after comparing safety numbers (or accept a changed identity)",
		Long: `Marks NAME verified. Do it only after you compared the safety number the chat
shows (or the fingerprint) with NAME over a channel you trust.

With --fingerprint, the fingerprint must be the pinned one, or the new one a
contact with a changed identity presented: verifying that one pins it. A changed
identity can only be accepted with --fingerprint.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := openVault(cmd)
			if err != nil {
				return err
			}
			defer v.Close()
			name, out := args[0], cmd.OutOrStdout()
			c, ok, err := v.Contact(name)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("no contact called %q", name)
			}
			var fp vault.Fingerprint
			switch {
			case fpText != "":
				if fp, err = vault.ParseFingerprint(strings.TrimPrefix(fpText, idQRPrefix)); err != nil {
					return err
				}
			case c.Changed:
				return fmt.Errorf("%q presented a different identity:\n  pinned:    %s\n  presented: %s\n"+
					"compare with %s over a channel you trust, then give the one that matches with --fingerprint", name, c.Fingerprint, c.Pending, name)
			default:
				fp = c.Fingerprint
				if !yes {
					fmt.Fprintf(out, "Pinned identity of %q: %s\n", name, fp)
					ok, err := confirm(cmd.InOrStdin(), out, "Did you compare the safety number (or this fingerprint) with "+name+" and do they match?")
					if err != nil {
						return err
					}
					if !ok {
						return errors.New("not verified")
					}
				}
			}
			if err := v.MarkVerified(name, fp); err != nil {
				return err
			}
			if c.Changed && fp == c.Pending {
				fmt.Fprintf(out, "Accepted the new identity of %q: %s (verified)\n", name, fp)
			} else {
				fmt.Fprintf(out, "Verified %q: %s\n", name, fp)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&fpText, "fingerprint", "", "the fingerprint you compared (required to accept a changed identity)")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (you compared the safety number)")
	return cmd
}

// confirm asks a yes/no question on a terminal; without one it needs --yes.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, errors.New("not a terminal: confirm with --yes, or give --fingerprint")
	}
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}
