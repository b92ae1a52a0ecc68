package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rtcchat/rtcchat/chat"
	"github.com/rtcchat/rtcchat/handshake"
	"github.com/rtcchat/rtcchat/rtc"
	"github.com/rtcchat/rtcchat/vault"
)

// The chat flow of `rtcchat offer` and `rtcchat answer`: open the vault and
// the isolated key process, swap blobs, connect through every layer, admit
// the peer against the contact book, then run the terminal or line UI.

type chatFlags struct {
	name     string
	minLevel string
	ui       uiOptions
}

func addChatFlags(cmd *cobra.Command) *chatFlags {
	f := &chatFlags{}
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", "your peer's contact name (asked on first contact when interactive)")
	fs.StringVar(&f.minLevel, "min-level", handshake.DefaultLevel.String(), "lowest security level to accept: standard, enhanced or quantum")
	fs.BoolVar(&f.ui.JSON, "json", false, "line mode with one JSON event per line on stdout (for scripts)")
	fs.BoolVar(&f.ui.Plain, "plain", false, "line mode even in a terminal: stdin lines are messages")
	fs.StringVar(&f.ui.AcceptDir, "accept-files", "", "accept offered files (up to --accept-max) into this folder without asking")
	fs.Uint64Var(&f.ui.AcceptMax, "accept-max", 4<<30, "largest file --accept-files takes without asking, in bytes (0: any size)")
	fs.StringVar(&f.ui.DownloadTo, "downloads", ".", "folder for files accepted with /accept")
	fs.DurationVar(&f.ui.Linger, "linger", 30*time.Second, "line mode: at end of input, wait this long for deliveries before leaving")
	return f
}

// openIdentity opens the data directory and starts the isolated key process
// (creating the identity on first run). The caller stops both.
func openIdentity(cmd *cobra.Command, notes io.Writer) (*vault.Vault, *vault.KeyProcess, error) {
	v, err := openVault(cmd)
	if err != nil {
		return nil, nil, err
	}
	has, err := v.HasIdentity()
	if err != nil {
		v.Close()
		return nil, nil, err
	}
	if !has {
		fmt.Fprintln(notes, "First run: creating your identity (Ed25519 + FALCON-1024)...")
	}
	kp, err := v.StartKeyProcess(vault.KeyProcessOptions{
		Create: true, Passphrase: askPassphrase(vault.PassphraseEnv, os.Stdin, notes), Stderr: notes, Attempts: 3,
	})
	if err != nil {
		v.Close()
		return nil, nil, err
	}
	if !has {
		fmt.Fprintf(notes, "Your identity: %s\n", vault.FingerprintOf(kp.Public()))
	}
	return v, kp, nil
}

// vaultContacts admits peers against the vault's contact book.
type vaultContacts struct {
	v     *vault.Vault
	name  string                          // the name the user gave (--name), if any
	ask   func(fp string) (string, error) // asks for a first contact's name; nil when not interactive
	known string                          // the admitted contact's name
}

func (c *vaultContacts) Admit(peer *handshake.PublicIdentity) (string, bool, bool, error) {
	fp := vault.FingerprintOf(peer)
	if c.name == "" {
		// Which contact is this? A pinned identity answers for itself.
		ct, ok, err := c.v.Lookup(fp)
		if err != nil {
			return "", false, false, err
		}
		if ok {
			c.name = ct.Name
		} else {
			// An identity we have never seen: a new person, or someone
			// claiming to be one of our contacts. Only the user can tell.
			if c.ask == nil {
				c.v.Log().Record(vault.Event{Kind: vault.EventHandshake, Peer: fp.Hex(), Result: "refused", Detail: "unknown identity and no --name"})
				return "", false, false, fmt.Errorf("the peer's identity %s is not one of your contacts.\n"+
					"If this is a new contact, connect again with --name NAME to pin it under that name.\n"+
					"If it claims to be one of your contacts, its identity is not the one you pinned: compare safety numbers first", fp)
			}
			if c.name, err = c.ask(fp.String()); err != nil {
				return "", false, false, err
			}
		}
	}
	// CheckPeer refuses (and logs) an identity that differs from the one
	// pinned under this name, or one pinned under another name.
	status, err := c.v.CheckPeer(c.name, fp)
	if err != nil {
		return "", false, false, err
	}
	first := false
	switch status {
	case vault.PeerNew:
		if _, err := c.v.Pin(c.name, fp); err != nil {
			return "", false, false, err
		}
		first = true
	case vault.PeerKnown, vault.PeerVerified:
	default:
		return "", false, false, fmt.Errorf("contact book: unexpected status %v", status)
	}
	c.known = c.name
	c.v.Log().Record(vault.Event{Kind: vault.EventHandshake, Peer: fp.Hex(), Result: "ok", Detail: "authenticated as " + c.name + "; " + status.String()})
	return c.name, first, status == vault.PeerVerified, nil
}

func (c *vaultContacts) MarkVerified(peer *handshake.PublicIdentity) error {
	return c.v.MarkVerified(c.known, vault.FingerprintOf(peer))
}

func (c *vaultContacts) Store(peer *handshake.PublicIdentity) (chat.Store, error) {
	return c.v.ContactStore(vault.FingerprintOf(peer)), nil
}

// readBlobFrom reads lines from in until they form a whole blob (chat apps
// break long lines), leaving the rest of in for the chat.
func readBlobFrom(in *bufio.Reader) (string, error) {
	var acc strings.Builder
	for {
		line, err := in.ReadString('\n')
		line = strings.TrimSpace(line)
		if line != "" || acc.Len() > 0 {
			acc.WriteString(line)
			if _, perr := rtc.Parse(acc.String()); perr == nil || !errors.Is(perr, rtc.ErrTruncated) {
				return acc.String(), nil // the caller reports other errors
			}
		}
		if err != nil {
			if acc.Len() == 0 {
				return "", errors.New("no blob was given (end of input)")
			}
			return acc.String(), nil
		}
	}
}

type chatRun struct {
	v     *vault.Vault // set by config
	cmd   *cobra.Command
	rf    *rtcFlags
	cf    *chatFlags
	in    *bufio.Reader
	out   io.Writer
	notes io.Writer
}

func newChatRun(cmd *cobra.Command, rf *rtcFlags, cf *chatFlags) *chatRun {
	return &chatRun{cmd: cmd, rf: rf, cf: cf, in: bufio.NewReader(cmd.InOrStdin()), out: cmd.OutOrStdout(), notes: cmd.ErrOrStderr()}
}

func (r *chatRun) interactive() bool {
	return !r.cf.ui.JSON && !r.cf.ui.Plain && isTerminal(r.out) && term.IsTerminal(int(os.Stdin.Fd()))
}

// config opens the identity and builds the chat configuration.
func (r *chatRun) config() (chat.Config, func(), *vault.KeyProcess, error) {
	rcfg, err := r.rf.config()
	if err != nil {
		return chat.Config{}, nil, nil, err
	}
	level, err := handshake.ParseLevel(r.cf.minLevel)
	if err != nil {
		return chat.Config{}, nil, nil, err
	}
	v, kp, err := openIdentity(r.cmd, r.notes)
	if err != nil {
		return chat.Config{}, nil, nil, err
	}
	r.v = v
	contacts := &vaultContacts{v: v, name: r.cf.name}
	if r.cf.name != "" {
		if err := vault.ValidateName(r.cf.name); err != nil {
			kp.Close()
			v.Close()
			return chat.Config{}, nil, nil, err
		}
	}
	if r.interactive() {
		contacts.ask = func(fp string) (string, error) {
			fmt.Fprintf(r.notes, "The peer's identity %s is not one of your contacts.\n", fp)
			if cs, err := v.Contacts(); err == nil && len(cs) > 0 {
				names := make([]string, len(cs))
				for i, c := range cs {
					names[i] = c.Name
				}
				fmt.Fprintf(r.notes, "Your contacts: %s. If the peer claims to be one of them, its identity has CHANGED: give that name to be warned, and compare safety numbers.\n", strings.Join(names, ", "))
			}
			fmt.Fprint(r.notes, "Name for this new contact: ")
			line, err := r.in.ReadString('\n')
			name := strings.TrimSpace(line)
			if name == "" && err != nil {
				return "", err
			}
			return name, vault.ValidateName(name)
		}
	}
	cleanup := func() { kp.Close(); v.Close() }
	reject := func(what string, err error) { v.Log().RejectedInput(what, err) }
	return chat.Config{RTC: rcfg, Signer: kp, MinLevel: level, Contacts: contacts, OnReject: reject}, cleanup, kp, nil
}

// converse runs the UI until the conversation ends. If the key process dies,
// the chat says so and stops.
func (r *chatRun) converse(conv *chat.Conversation, kp *vault.KeyProcess) error {
	go func() {
		select {
		case <-kp.Done():
			fmt.Fprintln(r.notes, "rtcchat: the key process stopped unexpectedly; ending the chat to be safe.")
			conv.Close()
		case <-conv.Done():
		}
	}()
	if r.interactive() {
		return runTUI(conv, r.cf.ui)
	}
	return runLineUI(conv, r.in, r.out, r.cf.ui)
}

func (r *chatRun) offer(answerFile string) error {
	ctx, stop := interruptible(r.cmd.Context())
	defer stop()
	cfg, cleanup, kp, err := r.config()
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintln(r.notes, "Gathering network addresses...")
	o, err := chat.NewOffer(ctx, cfg)
	if err != nil {
		return err
	}
	defer o.Close()
	for _, n := range o.Notes() {
		fmt.Fprintln(r.notes, "note:", n)
	}
	fmt.Fprintln(r.notes, "Send this offer to your peer; they run: rtcchat answer <offer>")
	r.showBlob("offer", o.Blob())
	var conv *chat.Conversation
	for {
		var answer string
		if answerFile != "" {
			b, err := io.ReadAll(&fileWaiter{ctx: ctx, path: answerFile})
			if err != nil {
				return err
			}
			answer = string(b)
		} else {
			fmt.Fprintln(r.notes, "Paste the answer your peer sends back, then press Enter:")
			if answer, err = readBlobFrom(r.in); err != nil {
				return err
			}
		}
		fmt.Fprintln(r.notes, "Connecting...")
		conv, err = o.Connect(ctx, answer)
		r.logFailure(err)
		var be *rtc.BlobError
		if answerFile == "" && (errors.As(err, &be) || errors.Is(err, rtc.ErrWrongBlob)) {
			r.v.Log().RejectedInput("answer blob", err)
			fmt.Fprintln(r.notes, "That answer cannot be used:", err)
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	return r.converse(conv, kp)
}

func (r *chatRun) answer(offer string) error {
	ctx, stop := interruptible(r.cmd.Context())
	defer stop()
	if offer == "-" {
		var err error
		if offer, err = readBlobFrom(r.in); err != nil {
			return err
		}
	}
	if _, err := rtc.Parse(offer); err != nil {
		return fmt.Errorf("the offer cannot be used: %w", err)
	}
	cfg, cleanup, kp, err := r.config()
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintln(r.notes, "Gathering network addresses...")
	a, err := chat.NewAnswer(ctx, cfg, offer)
	if err != nil {
		return err
	}
	defer a.Close()
	for _, n := range a.Notes() {
		fmt.Fprintln(r.notes, "note:", n)
	}
	wait := cfg.RTC.AnswerWait
	if wait == 0 {
		wait = rtc.DefaultAnswerWait
	}
	fmt.Fprintf(r.notes, "Send this answer back to your peer (waiting up to %v for them to paste it):\n", wait)
	r.showBlob("answer", a.Blob())
	conv, err := a.Connect(ctx)
	if err != nil {
		r.logFailure(err)
		return err
	}
	return r.converse(conv, kp)
}

// logFailure records a connection that failed after the blobs were swapped
// in the security log (no secrets: the error says which check failed).
func (r *chatRun) logFailure(err error) {
	if err != nil && r.v != nil {
		r.v.Log().Record(vault.Event{Kind: vault.EventHandshake, Result: "failed", Detail: err.Error()})
	}
}

// showBlob prints our blob: text and QR for people, a JSON event with --json.
func (r *chatRun) showBlob(kind, blob string) {
	if r.cf.ui.JSON {
		b, _ := json.Marshal(map[string]string{"event": kind, "blob": blob})
		fmt.Fprintf(r.out, "%s\n", b)
		return
	}
	showBlob(r.out, blob, !r.rf.noQR)
}
