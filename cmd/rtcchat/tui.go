package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/rtcchat/rtcchat/chat"
)

// The terminal UI: a status bar, the scrollback, transfers with progress
// bars, and an input line. Commands are those of the line mode (/help).

var (
	styleBar     = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("24")).Padding(0, 1)
	styleWarnBar = styleBar.Background(lipgloss.Color("130"))
	styleMe      = lipgloss.NewStyle().Foreground(lipgloss.Color("39")).Bold(true)
	stylePeer    = lipgloss.NewStyle().Foreground(lipgloss.Color("212")).Bold(true)
	styleSystem  = lipgloss.NewStyle().Foreground(lipgloss.Color("244")).Italic(true)
	styleError   = lipgloss.NewStyle().Foreground(lipgloss.Color("203")).Bold(true)
	styleHint    = lipgloss.NewStyle().Foreground(lipgloss.Color("241"))
)

type tuiLine struct {
	when time.Time
	who  string // "me", "peer", "sys", "err"
	text string
	id   uint64 // message id for "me" lines
}

type tuiTransfer struct {
	st  *chat.FileStatus
	bar progress.Model
}

type tuiModel struct {
	conv      conversation
	opts      uiOptions
	info      chat.Info
	vp        viewport.Model
	input     textinput.Model
	lines     []tuiLine
	delivered map[uint64]bool
	transfers map[uint64]*tuiTransfer
	offers    offerList
	width     int
	height    int
	ready     bool
	quitting  bool
	endErr    error
}

type eventMsg chat.Event
type sessionDoneMsg struct{}

func waitForEvent(c conversation) tea.Cmd {
	return func() tea.Msg {
		select {
		case ev := <-c.Events():
			return eventMsg(ev)
		case <-c.Done():
			select {
			case ev := <-c.Events():
				return eventMsg(ev)
			default:
				return sessionDoneMsg{}
			}
		}
	}
}

func runTUI(conv conversation, opts uiOptions) error {
	ti := textinput.New()
	ti.Placeholder = "type a message, or /help"
	ti.CharLimit = chat.MaxTextSize
	ti.Focus()
	m := &tuiModel{conv: conv, opts: opts, info: conv.Info(), input: ti,
		delivered: map[uint64]bool{}, transfers: map[uint64]*tuiTransfer{}}
	in := m.info
	m.sys(fmt.Sprintf("connected to %s over %s", orUnnamed(in.PeerName), in.Path))
	m.sys(fmt.Sprintf("security: %s · %s · session code %s", in.Level, in.Ratchet, in.SessionCode))
	if !in.Verified {
		m.warn("not verified yet: type /verify and compare the safety number with your peer")
	}
	p := tea.NewProgram(m, tea.WithAltScreen())
	_, err := p.Run()
	if err != nil {
		return err
	}
	return m.endErr
}

func (m *tuiModel) Init() tea.Cmd { return tea.Batch(textinput.Blink, waitForEvent(m.conv)) }

// maxScrollback bounds the lines kept (and rendered) by the terminal UI.
const maxScrollback = 2000

func (m *tuiModel) add(l tuiLine) {
	l.when = time.Now()
	if l.who != "raw" {
		l.text = cleanText(l.text)
	}
	m.lines = append(m.lines, l)
	if over := len(m.lines) - maxScrollback; over > 0 {
		m.lines = append(m.lines[:0], m.lines[over:]...)
	}
	m.refresh()
}

func (m *tuiModel) sys(text string)  { m.add(tuiLine{who: "sys", text: text}) }
func (m *tuiModel) warn(text string) { m.add(tuiLine{who: "err", text: text}) }

func (m *tuiModel) refresh() {
	if !m.ready {
		return
	}
	var b strings.Builder
	w := max(m.width-2, 20)
	for _, l := range m.lines {
		ts := styleHint.Render(l.when.Format("15:04"))
		var body string
		switch l.who {
		case "me":
			mark := "…"
			if m.delivered[l.id] {
				mark = "✓"
			}
			body = styleMe.Render("you") + " " + l.text + " " + styleHint.Render(mark)
		case "peer":
			body = stylePeer.Render(orUnnamed(m.info.PeerName)) + " " + l.text
		case "err":
			body = styleError.Render("! " + l.text)
		case "raw":
			b.WriteString(l.text + "\n")
			continue
		default:
			body = styleSystem.Render("* " + l.text)
		}
		b.WriteString(lipgloss.NewStyle().Width(w).Render(ts + " " + body))
		b.WriteString("\n")
	}
	atBottom := m.vp.AtBottom()
	m.vp.SetContent(b.String())
	if atBottom {
		m.vp.GotoBottom()
	}
}

func (m *tuiModel) layout() {
	transfersH := len(m.transfers)
	h := m.height - 3 - transfersH // status bar, input, hint
	if h < 3 {
		h = 3
	}
	if !m.ready {
		m.vp = viewport.New(m.width, h)
		m.ready = true
	} else {
		m.vp.Width, m.vp.Height = m.width, h
	}
	m.input.Width = max(m.width-4, 10)
	for _, t := range m.transfers {
		t.bar.Width = max(m.width/3, 10)
	}
	m.refresh()
}

func (m *tuiModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.KeyMsg:
		switch msg.Type {
		case tea.KeyCtrlC, tea.KeyCtrlD:
			return m, m.quit()
		case tea.KeyEnter:
			line := m.input.Value()
			m.input.SetValue("")
			if m.handleInput(line) {
				return m, m.quit()
			}
			return m, nil
		case tea.KeyPgUp, tea.KeyPgDown, tea.KeyUp, tea.KeyDown:
			var cmd tea.Cmd
			m.vp, cmd = m.vp.Update(msg)
			return m, cmd
		}
	case eventMsg:
		m.event(chat.Event(msg))
		if msg.Kind == chat.EventDisconnected {
			m.endErr = msg.Err
			if m.quitting {
				return m, tea.Quit
			}
			return m, nil
		}
		return m, waitForEvent(m.conv)
	case sessionDoneMsg:
		if m.quitting {
			return m, tea.Quit
		}
		return m, nil
	case quitDoneMsg:
		return m, tea.Quit
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

type quitDoneMsg struct{}

func (m *tuiModel) quit() tea.Cmd {
	if m.quitting {
		return tea.Quit
	}
	m.quitting = true
	m.sys("saying goodbye…")
	c := m.conv
	return func() tea.Msg {
		c.Close()
		return quitDoneMsg{}
	}
}

func (m *tuiModel) handleInput(line string) bool {
	if strings.TrimSpace(line) == "" {
		return false
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		text := line
		if strings.HasPrefix(line, "//") {
			text = line[1:]
		}
		id, err := m.conv.SendText(text)
		if errors.Is(err, chat.ErrQueued) {
			m.warn("not connected: this message is kept and sent on the next connection")
		} else if err != nil {
			m.warn("not sent: " + err.Error())
			return false
		}
		m.add(tuiLine{who: "me", text: text, id: id})
		return false
	}
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/quit", "/exit", "/bye":
		return true
	case "/help":
		for _, l := range strings.Split(helpText, "\n") {
			m.sys(l)
		}
	case "/send":
		if arg == "" {
			m.warn("usage: /send PATH")
			break
		}
		path := expandHome(arg)
		m.sys("hashing " + filepath.Base(path) + "…")
		id, err := m.conv.OfferFile(path)
		if err != nil {
			m.warn(err.Error())
			break
		}
		m.sys(fmt.Sprintf("offered %s; waiting for the peer to accept (id %x)", filepath.Base(path), id))
	case "/accept", "/decline":
		id, ok := m.offers.pick(arg)
		if !ok {
			m.warn("no such file offer")
			break
		}
		m.offers.drop(id)
		if cmd == "/decline" {
			if err := m.conv.DeclineFile(id); err != nil {
				m.warn(err.Error())
			}
			m.sys("declined")
			break
		}
		dir := m.opts.DownloadTo
		if dir == "" {
			dir = "."
		}
		if err := m.conv.AcceptFile(id, dir); err != nil {
			m.warn(err.Error())
		} else {
			m.sys("accepted; saving into " + dir)
		}
	case "/verify":
		if arg == "confirm" {
			if err := m.conv.MarkVerified(); err != nil {
				m.warn(err.Error())
			} else {
				m.info = m.conv.Info()
				m.sys(orUnnamed(m.info.PeerName) + " is now verified")
			}
			break
		}
		m.sys("safety number — read it with " + orUnnamed(m.info.PeerName) + " over a channel you trust (in person, a call):")
		for _, l := range strings.Split(m.info.SafetyNumber, "\n") {
			m.sys("    " + l)
		}
		var qr strings.Builder
		if writeQR(&qr, m.info.SafetyQR) == nil {
			m.sys("or scan each other's QR code:")
			m.add(tuiLine{who: "raw", text: strings.TrimRight(qr.String(), "\n")})
		}
		m.sys("if it matches, type /verify confirm")
	case "/pending":
		p := m.conv.Pending()
		if len(p) == 0 {
			m.sys("everything was delivered")
		}
		for _, pm := range p {
			m.sys("pending: " + pm.Text)
		}
	default:
		m.warn("unknown command " + cmd + " (/help lists them)")
	}
	return false
}

func (m *tuiModel) setTransfer(st *chat.FileStatus) {
	t, ok := m.transfers[st.ID]
	if !ok {
		t = &tuiTransfer{bar: progress.New(progress.WithDefaultGradient(), progress.WithoutPercentage())}
		m.transfers[st.ID] = t
		defer m.layout()
	}
	t.st = st
}

func (m *tuiModel) endTransfer(id uint64) {
	if _, ok := m.transfers[id]; ok {
		delete(m.transfers, id)
		m.layout()
	}
}

func (m *tuiModel) event(ev chat.Event) {
	switch ev.Kind {
	case chat.EventMessage:
		m.add(tuiLine{who: "peer", text: ev.Text})
	case chat.EventDelivered:
		m.delivered[ev.ID] = true
		m.refresh()
	case chat.EventFileOffered:
		m.offers = append(m.offers, ev.ID)
		m.sys(fmt.Sprintf("%s offers %s (%s): /accept or /decline", orUnnamed(m.info.PeerName), ev.File.Name, humanBytes(ev.File.Size)))
		if m.opts.AcceptDir != "" && (m.opts.AcceptMax == 0 || ev.File.Size <= m.opts.AcceptMax) {
			m.offers.drop(ev.ID)
			if err := m.conv.AcceptFile(ev.ID, m.opts.AcceptDir); err != nil {
				m.warn(err.Error())
			}
		}
	case chat.EventFileProgress:
		m.setTransfer(ev.File)
	case chat.EventFileDone:
		m.endTransfer(ev.ID)
		if ev.File.Incoming {
			m.sys(fmt.Sprintf("received %s (%s, SHA-256 verified) → %s", ev.File.Name, humanBytes(ev.File.Size), ev.File.Path))
		} else {
			m.sys(fmt.Sprintf("%s delivered (%s, verified by the peer)", ev.File.Name, humanBytes(ev.File.Size)))
		}
	case chat.EventFileFailed:
		m.endTransfer(ev.ID)
		m.offers.drop(ev.ID)
		name := "file"
		if ev.File != nil {
			name = ev.File.Name
		}
		m.warn(fmt.Sprintf("transfer of %s failed: %v", name, ev.Err))
	case chat.EventDisconnected:
		p := len(m.conv.Pending())
		text := "disconnected"
		if ev.Err != nil {
			text += ": " + ev.Err.Error()
		}
		if p > 0 {
			text += fmt.Sprintf(" — %d undelivered message(s) kept for the next connection", p)
		}
		if ev.Err != nil {
			m.warn(text)
		} else {
			m.sys(text)
		}
		m.sys("press Ctrl-C to leave")
	}
}

func (m *tuiModel) View() string {
	if !m.ready {
		return "starting…"
	}
	in := m.info
	verified := "✓ verified"
	bar := styleBar
	if !in.Verified {
		verified = "⚠ unverified (/verify)"
		bar = styleWarnBar
	}
	path, _, _ := strings.Cut(in.Path, " ") // "direct" or "relay"; the details are in the scrollback
	status := fmt.Sprintf("rtcchat · %s · %s · %s · %s · code %s", orUnnamed(in.PeerName), verified, in.Level, path, in.SessionCode)
	if len(status) > m.width && m.width > 3 {
		status = status[:m.width-3] + "…"
	}
	var b strings.Builder
	b.WriteString(bar.Width(m.width).Render(status))
	b.WriteString("\n")
	b.WriteString(m.vp.View())
	b.WriteString("\n")
	for _, t := range m.transfers {
		dir := "↑"
		if t.st.Incoming {
			dir = "↓"
		}
		frac := 1.0
		if t.st.Size > 0 {
			frac = float64(t.st.Done) / float64(t.st.Size)
		}
		b.WriteString(fmt.Sprintf("%s %-16.16s %s %s\n", dir, t.st.Name, t.bar.ViewAs(frac), progressLine(t.st)))
	}
	b.WriteString(m.input.View())
	b.WriteString("\n")
	b.WriteString(styleHint.Render(fmt.Sprintf("%d pending · PgUp/PgDn scroll · /help · Ctrl-C quit", len(m.conv.Pending()))))
	return b.String()
}
