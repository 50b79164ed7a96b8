"""English and German (Zug): chosen by `?lang=`, then the `lang` cookie, then the browser.

Messages are keyed by their English text, so a page reads as English in the code and a
missing German line falls back to English rather than to a blank.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = {"en": "English", "de": "Deutsch"}
DEFAULT = "en"

GERMAN = {
    "Explorer": "Explorer",
    "Documents": "Dokumente",
    "Money": "Finanzen",
    "Contracts": "Verträge",
    "Resident": "Einwohner",
    "Department": "Verwaltung",
    "Search": "Suche",
    "Block height, transaction, account, DID, document hash or invoice":
        "Blockhöhe, Transaktion, Konto, DID, Dokument-Hash oder Rechnung",
    "Skip to content": "Zum Inhalt springen",
    "Main": "Hauptnavigation",
    "Language": "Sprache",
    "Latest blocks": "Neueste Blöcke",
    "Latest transactions": "Neueste Transaktionen",
    "Height": "Höhe",
    "Time": "Zeit",
    "Transactions": "Transaktionen",
    "Hash": "Hash",
    "Transaction": "Transaktion",
    "Block": "Block",
    "Sender": "Absender",
    "Actions": "Aktionen",
    "Status": "Status",
    "ok": "ok",
    "failed": "fehlgeschlagen",
    "Live: new blocks appear here as they are committed.":
        "Live: neue Blöcke erscheinen hier, sobald sie bestätigt sind.",
    "Chain": "Kette",
    "Validators": "Validatoren",
    "State keys": "Zustandsschlüssel",
    "Header": "Kopf",
    "Previous block": "Vorheriger Block",
    "Next block": "Nächster Block",
    "Proposer": "Vorschlagender",
    "Signature": "Signatur",
    "State root (app hash)": "Zustandswurzel (App-Hash)",
    "Transactions root": "Transaktionswurzel",
    "Results root": "Ergebniswurzel",
    "No transactions in this block.": "Keine Transaktionen in diesem Block.",
    "Receipt": "Beleg",
    "Events": "Ereignisse",
    "Nonce": "Nonce",
    "Memo": "Notiz",
    "Expires at height": "Gültig bis Höhe",
    "Code": "Code",
    "Message": "Meldung",
    "Account": "Konto",
    "Keys": "Schlüssel",
    "Weight": "Gewicht",
    "Threshold": "Schwelle",
    "Created at height": "Erstellt bei Höhe",
    "Key history": "Schlüsselverlauf",
    "Balances": "Guthaben",
    "Asset": "Währung",
    "Balance": "Guthaben",
    "No balances.": "Keine Guthaben.",
    "No transactions.": "Keine Transaktionen.",
    "DID document": "DID-Dokument",
    "Department of": "Verwaltung für",
    "Roles": "Rollen",
    "Verify in this browser": "In diesem Browser prüfen",
    "Not verified yet. Verification runs in your browser: it checks the state proof against "
    "the block header and the header against the validator keys pinned from genesis.":
        "Noch nicht geprüft. Die Prüfung läuft in Ihrem Browser: Sie prüft den Zustandsbeweis "
        "gegen den Blockkopf und den Kopf gegen die aus der Genesis gespeicherten "
        "Validatorschlüssel.",
    "Verify this header in this browser": "Diesen Kopf im Browser prüfen",
    "Not found": "Nicht gefunden",
    "Error": "Fehler",
    "Verify a document": "Ein Dokument prüfen",
    "Drop a file here, or choose one. Its SHA-256 is computed in your browser; the file is "
    "never uploaded.":
        "Datei hier ablegen oder auswählen. Ihr SHA-256 wird im Browser berechnet; die Datei "
        "wird nie hochgeladen.",
    "File to verify": "Zu prüfende Datei",
    "Or enter a SHA-256 hash": "Oder einen SHA-256-Hash eingeben",
    "Look up": "Nachschlagen",
    "Document": "Dokument",
    "Type": "Art",
    "Reference": "Referenz",
    "Anchored by": "Verankert von",
    "Anchored at height": "Verankert bei Höhe",
    "No document with this hash is anchored.": "Kein Dokument mit diesem Hash ist verankert.",
    "Supply check per asset": "Mengenprüfung je Währung",
    "Minted": "Ausgegeben",
    "Burned": "Vernichtet",
    "Pending": "Ausstehend",
    "Sum of balances": "Summe der Guthaben",
    "Check": "Prüfung",
    "balanced": "ausgeglichen",
    "does not add up": "geht nicht auf",
    "Revenue by month": "Einnahmen pro Monat",
    "No revenue yet.": "Noch keine Einnahmen.",
    "Month": "Monat",
    "Kind": "Art",
    "Net": "Netto",
    "Payments": "Zahlungen",
    "No assets yet.": "Noch keine Währungen.",
    "Departments": "Verwaltungen",
    "Administrator": "Verwalter",
    "Contract": "Vertrag",
    "Versions": "Versionen",
    "Source": "Quelltext",
    "No contracts deployed.": "Keine Verträge bereitgestellt.",
    "Call (read-only)": "Aufruf (nur lesen)",
    "Function": "Funktion",
    "Arguments (JSON list)": "Argumente (JSON-Liste)",
    "Call": "Aufrufen",
    "Result": "Ergebnis",
    "Nothing matches this search.": "Nichts entspricht dieser Suche.",
    "Value": "Wert",
    "Validator keys pinned in this browser": "In diesem Browser gespeicherte Validatorschlüssel",
    "Sign in": "Anmelden",
    "Sign out": "Abmelden",
    "Invoices": "Rechnungen",
}

CATALOGUES = {"en": {}, "de": GERMAN}


def pick(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The reader's language: an explicit switch first, then the browser's preference."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


def translator(lang: str) -> Callable[[str], str]:
    catalogue = CATALOGUES.get(lang, {})

    def translate(text: str) -> str:
        return catalogue.get(text, text)

    return translate


GERMAN.update(
    {
        "Invoice": "Rechnung",
        "Payer": "Zahler",
        "Amount": "Betrag",
        "Paid": "Bezahlt",
        "Due": "Fällig",
        "Key": "Schlüssel",
        "Change": "Änderung",
    }
)
GERMAN.update(
    {
        "Present your credential from your wallet:": "Weisen Sie sich mit Ihrer Wallet aus:",
        "Scan the code with a phone wallet, open the link on this device, or answer it from a "
        "terminal with `urbis wallet respond`.":
            "Scannen Sie den Code mit der Wallet auf dem Telefon, öffnen Sie den Link auf diesem "
            "Gerät oder beantworten Sie ihn im Terminal mit `urbis wallet respond`.",
        "Sign-in code for your wallet": "Anmeldecode für Ihre Wallet",
        "Open in the wallet on this device": "In der Wallet auf diesem Gerät öffnen",
        "Sign-in link": "Anmeldelink",
        "This browser's key": "Der Schlüssel dieses Browsers",
        "Your account key stays in this browser: it cannot be read out, only asked to sign. The "
        "registry adds its public key to your account once.":
            "Ihr Kontoschlüssel bleibt in diesem Browser: Er kann nicht ausgelesen, nur zum "
            "Signieren verwendet werden. Das Register fügt seinen öffentlichen Schlüssel einmal "
            "Ihrem Konto hinzu.",
        "Public key": "Öffentlicher Schlüssel",
        "Account to sign in with": "Konto für die Anmeldung",
        "Waiting for the wallet…": "Warte auf die Wallet…",
        "Pay": "Bezahlen",
        "No invoices.": "Keine Rechnungen.",
        "overdue": "überfällig",
        "Issue an invoice": "Rechnung stellen",
        "Payer account": "Konto des Zahlers",
        "Due date": "Fälligkeitsdatum",
        "Details (kept off chain; only their hash is recorded)":
            "Einzelheiten (nicht auf der Kette; nur ihr Hash wird festgehalten)",
        "Sign and issue": "Signieren und stellen",
        "Anchor a document": "Dokument verankern",
        "File to anchor": "Zu verankernde Datei",
        "Sign and anchor": "Signieren und verankern",
        "Open invoices": "Offene Rechnungen",
        "No open invoices.": "Keine offenen Rechnungen.",
        "Signed in as": "Angemeldet als",
    }
)
GERMAN.update(
    {
        "Mandates": "Mandate",
        "A mandate lets a department collect your invoices, within limits, until you revoke it.":
            "Mit einem Mandat zieht eine Verwaltung Ihre Rechnungen im Rahmen der Grenzen ein, "
            "bis Sie es widerrufen.",
        "No mandates.": "Keine Mandate.",
        "At most per invoice": "Höchstens pro Rechnung",
        "At most per month": "Höchstens pro Monat",
        "Sign and set the mandate": "Signieren und Mandat erteilen",
        "Revoke": "Widerrufen",
    }
)
GERMAN.update(
    {
        "Role": "Rolle",
        "No roles granted.": "Keine Rollen erteilt.",
        "Role (e.g. billing, notary)": "Rolle (z. B. billing, notary)",
        "Sign and grant": "Signieren und erteilen",
    }
)
GERMAN.update(
    {
        "Datasets": "Datensätze",
        "Open datasets": "Offene Datensätze",
        "Dataset": "Datensatz",
        "Version": "Version",
        "Records": "Einträge",
        "Published at height": "Veröffentlicht bei Höhe",
        "No datasets published.": "Keine Datensätze veröffentlicht.",
        "Size (bytes)": "Grösse (Bytes)",
        "Merkle root of the file": "Merkle-Wurzel der Datei",
        "Transformation": "Verarbeitung",
        "Code hash": "Code-Hash",
        "Publisher": "Herausgeber",
        "Inputs": "Eingaben",
        "Attestations": "Bestätigungen",
        "Result": "Ergebnis",
        "Figures": "Kennzahlen",
        "Steward": "Datenverantwortliche",
        "No attestations yet.": "Noch keine Bestätigungen.",
        "passed": "bestanden",
    }
)
GERMAN.update(
    {
        # procedures
        "Procedures": "Verfahren",
        "Procedure": "Verfahren",
        "Every step of a land sale or a licence, read from the contracts' events.":
            "Jeder Schritt eines Grundstückverkaufs oder einer Bewilligung, gelesen aus den "
            "Ereignissen der Verträge.",
        "No land registry or licensing contract is deployed.":
            "Kein Grundbuch- oder Bewilligungsvertrag ist in Betrieb.",
        "No procedures yet.": "Noch keine Verfahren.",
        "Steps": "Schritte",
        "Step": "Schritt",
        "Last step": "Letzter Schritt",
        "Who": "Wer",
        "Details": "Einzelheiten",
        "parcel": "Grundstück",
        "licence": "Bewilligung",
        "owner": "Eigentümer",
        "applied": "beantragt",
        "approved": "bewilligt",
        "refused": "abgelehnt",
        "revoked": "entzogen",
        # elections
        "Elections": "Abstimmungen",
        "Election": "Abstimmung",
        "No elections yet.": "Noch keine Abstimmungen.",
        "Title": "Titel",
        "Phase": "Phase",
        "ceremony": "Schlüsselzeremonie",
        "open": "offen",
        "closed": "geschlossen",
        "tallied": "ausgezählt",
        "Waiting for": "Wartet auf",
        "Opens at block": "Öffnet bei Block",
        "Closes at block": "Schliesst bei Block",
        "Guardians": "Treuhänder",
        "quorum": "Quorum",
        "Registrations": "Registrierungen",
        "Ballots counted": "Gezählte Stimmzettel",
        "Ballots replaced": "Ersetzte Stimmzettel",
        "Ballots challenged": "Geprüfte Stimmzettel",
        "Group": "Gruppe",
        "No result yet.": "Noch kein Ergebnis.",
        "Contest": "Vorlage",
        "Option": "Antwort",
        "Votes": "Stimmen",
        "Decrypted by guardians": "Entschlüsselt von den Treuhändern",
        "recorded at block": "festgehalten bei Block",
        "Verification report": "Prüfbericht",
        "Election record (JSON)": "Abstimmungsprotokoll (JSON)",
        "The record is verified once the result is recorded.":
            "Das Protokoll wird geprüft, sobald das Ergebnis festgehalten ist.",
        "ElectionGuard 2.1 §6.2, run on this server over the election record:":
            "ElectionGuard 2.1 §6.2, auf diesem Server über das Abstimmungsprotokoll ausgeführt:",
        "This election uses a small test group: not secure.":
            "Diese Abstimmung verwendet eine kleine Testgruppe: nicht sicher.",
        "Check": "Prüfung",
        "Outcome": "Ergebnis",
        "Passed": "Bestanden",
        "Failed": "Nicht bestanden",
        "not applicable": "nicht anwendbar",
        "Anyone can repeat it:": "Jede und jeder kann sie wiederholen:",
        # resident space
        "Licences": "Bewilligungen",
        "Licence": "Bewilligung",
        "No licence applications.": "Keine Bewilligungsgesuche.",
        "Fee invoice": "Gebührenrechnung",
        "Licensing office": "Bewilligungsstelle",
        "Kind of licence (e.g. food-truck)": "Art der Bewilligung (z. B. food-truck)",
        "Sign and apply": "Signieren und beantragen",
        "Applying issues the licence fee as an invoice in your space.":
            "Mit dem Gesuch wird die Gebühr als Rechnung in Ihrem Bereich gestellt.",
        "Parcels": "Grundstücke",
        "Parcel": "Grundstück",
        "Registry": "Grundbuch",
        "Deed hash": "Hash der Urkunde",
        "Since": "Seit",
        "No parcels.": "Keine Grundstücke.",
        "Vehicles": "Fahrzeuge",
        "Make": "Marke",
        "Model": "Modell",
        "Year": "Jahrgang",
        "Odometer (km)": "Kilometerstand (km)",
        "No vehicles.": "Keine Fahrzeuge.",
        "Who read my data": "Wer meine Daten gelesen hat",
        "Every logged read of a personal record about you, from the data module's access log.":
            "Jeder protokollierte Zugriff auf einen Personendatensatz über Sie, aus dem "
            "Zugriffsprotokoll des Datenmoduls.",
        "Stream": "Datenstrom",
        "Reader": "Leser",
        "For": "Für",
        "Purpose": "Zweck",
        "Nobody has read personal records about you.":
            "Niemand hat Personendaten über Sie gelesen.",
        # department console
        "Licence applications": "Bewilligungsgesuche",
        "Applicant": "Gesuchsteller",
        "Applied": "Beantragt",
        "Decision": "Entscheid",
        "Approve": "Bewilligen",
        "Refuse": "Ablehnen",
        "Reason for a refusal": "Begründung einer Ablehnung",
        "No applications waiting for a decision.": "Keine Gesuche warten auf einen Entscheid.",
        "Council proposals": "Anträge an den Rat",
        "Proposal": "Antrag",
        "Action": "Handlung",
        "Approvals": "Zustimmungen",
        "executed": "ausgeführt",
        "expired": "abgelaufen",
        "No proposals.": "Keine Anträge.",
        "Action (module.name)": "Handlung (Modul.Name)",
        "Arguments (JSON object)": "Argumente (JSON-Objekt)",
        "Text, whole numbers and true/false; an account is written urbis1…, bytes as 0x "
        "followed by hex.":
            "Text, ganze Zahlen und true/false; ein Konto als urbis1…, Bytes als 0x und Hex.",
        "Sign and submit": "Signieren und einreichen",
        "Owner in the contract's storage": "Eigentümer im Speicher des Vertrags",
        "State in the contract's storage": "Zustand im Speicher des Vertrags",
    }
)
