package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rtcchat/rtcchat/vault"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newIDCmd) }

// ExportPassphraseEnv supplies the passphrase of `rtcchat id export/import`
// for scripts.
const exportPassphraseEnv = "RTCCHAT_EXPORT_PASSPHRASE"

// idQRPrefix starts the text in the fingerprint QR code.
const idQRPrefix = "rtcchat-id:"

func newIDCmd() *cobra.Command {
	var noQR, forceQR bool
	cmd := &cobra.Command{
		Use:   "id",
		Short: "Show your identity fingerprint (creates your identity on first run)",
		Long: `Shows the fingerprint of your identity (an Ed25519 and a FALCON-1024 key pair),
as text and as a QR code. Give it to your contacts over a channel you trust
(in person, a call) so they can pin it: rtcchat contacts add NAME FINGERPRINT.

On first run the identity is created. Its secret keys are sealed in the data
directory's keys/identity: with a random key kept in the OS keyring when one is
available, otherwise with a passphrase (asked on the terminal, or taken from
RTCCHAT_PASSPHRASE). Set RTCCHAT_NO_KEYRING=1 to use a passphrase anyway.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := openVault(cmd)
			if err != nil {
				return err
			}
			defer v.Close()
			out, notes := cmd.OutOrStdout(), cmd.ErrOrStderr()
			has, err := v.HasIdentity()
			if err != nil {
				return err
			}
			if !has {
				fmt.Fprintln(notes, "No identity yet: creating one (Ed25519 + FALCON-1024) in the key process...")
				kp, err := v.StartKeyProcess(vault.KeyProcessOptions{
					Create: true, Passphrase: askPassphrase(vault.PassphraseEnv, os.Stdin, notes), Stderr: notes,
				})
				if err != nil {
					return err
				}
				kp.Close()
			}
			info, err := v.Identity()
			if err != nil {
				return err
			}
			fmt.Fprintln(out, "Your rtcchat identity (Ed25519 + FALCON-1024)")
			fmt.Fprintf(out, "Fingerprint: %s\n", info.Fingerprint)
			if info.Keyring {
				fmt.Fprintln(out, "Sealed with: a random key in the OS keyring")
			} else {
				fmt.Fprintf(out, "Sealed with: a passphrase (Argon2id, t=%d, m=%d MiB, p=%d)\n",
					info.Argon2.Time, info.Argon2.MemoryKiB>>10, info.Argon2.Threads)
			}
			fmt.Fprintf(out, "Data directory: %s\n", v.Home())
			if forceQR || (!noQR && isTerminal(out)) {
				if err := writeQR(out, idQRPrefix+info.Fingerprint.Hex()); err != nil {
					fmt.Fprintf(out, "(no QR code: %v)\n", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noQR, "no-qr", false, "do not show the QR code")
	cmd.Flags().BoolVar(&forceQR, "qr", false, "show the QR code even when stdout is not a terminal")
	cmd.AddCommand(newIDExportCmd(), newIDImportCmd())
	return cmd
}

func newIDExportCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Write your identity to FILE, sealed with a new passphrase, for moving it to another machine",
		Long: `Writes your identity's secret keys to FILE (mode 0600), sealed with
XChaCha20-Poly1305 under a key derived from a passphrase you choose now with
Argon2id (parameters stored in the file). Take the file to the new machine and run
rtcchat id import FILE there. The passphrase is asked twice on the terminal, or
taken from RTCCHAT_EXPORT_PASSPHRASE.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if !force {
				if _, err := os.Lstat(path); err == nil {
					return fmt.Errorf("%s exists: refusing to overwrite it (use --force)", path)
				}
			}
			v, err := openVault(cmd)
			if err != nil {
				return err
			}
			defer v.Close()
			notes := cmd.ErrOrStderr()
			info, err := v.Identity()
			if err != nil {
				return err
			}
			exportPass, err := askPassphrase(exportPassphraseEnv, os.Stdin, notes)("Passphrase to protect the export", true)
			if err != nil {
				return err
			}
			defer clear(exportPass)
			data, err := v.ExportIdentity(askPassphrase(vault.PassphraseEnv, os.Stdin, notes), exportPass)
			if err != nil {
				return err
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(path, flags, 0o600)
			if err != nil {
				return err
			}
			if _, err := f.Write(data); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Exported identity %s to %s\n", info.Fingerprint, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite FILE if it exists")
	return cmd
}

func newIDImportCmd() *cobra.Command {
	var replace bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import an identity written by `rtcchat id export`",
		Long: `Opens FILE with its export passphrase (asked, or RTCCHAT_EXPORT_PASSPHRASE)
and seals the identity into this data directory: with the OS keyring when
available, else with a passphrase (asked twice, or RTCCHAT_PASSPHRASE). An
existing identity is replaced only with --replace.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			data, err := io.ReadAll(io.LimitReader(f, 1<<20))
			f.Close()
			if err != nil {
				return err
			}
			v, err := openVault(cmd)
			if err != nil {
				return err
			}
			defer v.Close()
			if has, err := v.HasIdentity(); err != nil {
				return err
			} else if has && !replace {
				return fmt.Errorf("%s: %w (use --replace to overwrite it; export it first if you may need it)", v.IdentityPath(), vault.ErrIdentityExists)
			}
			notes := cmd.ErrOrStderr()
			exportPass, err := askPassphrase(exportPassphraseEnv, os.Stdin, notes)("Passphrase of the export", false)
			if err != nil {
				return err
			}
			defer clear(exportPass)
			info, err := v.ImportIdentity(path, data, exportPass, askPassphrase(vault.PassphraseEnv, os.Stdin, notes), replace)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Imported identity %s into %s\n", info.Fingerprint, v.Home())
			return nil
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "replace the identity already in the data directory")
	return cmd
}
