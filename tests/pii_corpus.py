"""A labelled synthetic corpus of PII, secrets and hard negatives (issue 16).

``generate(n=2400, seed=0)`` returns ``n`` :class:`Item` s, deterministic for a given
seed (and a given Faker version): support tickets, chat messages, e-mail bodies, log
lines and config snippets, in ten locales (``LOCALES``), each with the entities
embedded at known ``str`` offsets (``Item.spans``) and the hard negatives embedded at
known offsets too (``Item.negatives``). Every label is checked when it is made:
``text[start:end] == value``.

How the values are made
-----------------------
* PII from Faker in the item's locale: ``phone_number`` (kept only when
  ``phonenumbers`` calls it a valid number for the locale's region, extensions dropped:
  Faker's en_US/nl_NL/pt_BR numbers are half invalid, and a number nobody could dial is
  no test of recall), ``iban`` (mod-97 valid; en_US, ja_JP and hi_IN have no IBAN of
  their own, Faker gives a GB one), ``credit_card_number`` (Luhn valid; Visa,
  Mastercard, Amex, Discover, JCB, Diners, printed with spaces, dashes or nothing),
  ``ssn`` of **en_US** (US_SSN is a US number; it appears in every language's
  templates), ``ipv4_public`` / ``ipv4_private`` / ``ipv6`` (full and compressed),
  ``mac_address`` (colon, dash and Cisco dotted forms), ``free_email`` /
  ``company_email``.
* Secrets in their real formats: AWS ``AKIA`` + 16 base32; GitHub classic
  (``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_`` + 30 base62 + a 6-char base62 CRC32 of
  those 30, the checksum GitHub's 2021 format carries) and fine-grained
  (``github_pat_`` + 22 + ``_`` + 59); OpenAI legacy ``sk-`` + 20 + ``T3BlbkFJ`` + 20
  and project ``sk-proj-…T3BlbkFJ…``; Anthropic ``sk-ant-api03-`` + 93 + ``AA``; Slack
  ``xoxb-``/``xoxp-``; Stripe ``sk_live_``/``rk_live_``; Google ``AIza`` + 35; PEM
  private keys (real keys made with ``cryptography`` from seeded numbers: RSA from
  seeded primes, EC and Ed25519 from seeded scalars; without ``cryptography``, a base64
  body of realistic length), including the JSON-escaped form of a service-account file;
  JWTs (base64url JSON header and payload, a real HMAC-SHA256 signature);
  ``GENERIC_SECRET``: a keyword (``password``, ``api_key``, ``client_secret``, …, a few
  localized like ``Passwort``) then a high-entropy value; **only the value is
  labelled**, not the keyword.
* ``URL_CREDENTIALS``: ``scheme://user:password@host/...``; the label is the userinfo
  ``user:password`` (without the ``@``).

Hard negatives (``Negative.kind``): ``order_number``, ``timestamp`` (ISO 8601, epoch
seconds and milliseconds, local date-times), ``uuid``, ``version`` (incl. four-part
builds with a part > 255, so never a valid IPv4), ``invoice_id`` (digit groups shaped
like phone numbers), ``luhn_invalid_card`` (16 digits, card-like prefixes, Luhn
fails), ``isbn`` (ISBN-13 with its check digit), ``tracking_number`` (UPS, USPS, DHL),
``commit_hash`` (40 and 7-12 hex), and ``placeholder``:

* placeholder e-mails (RFC 2606 domains: ``user@example.com``, ``*.example``,
  ``*.test``), ``lookalike="EMAIL"``. Presidio reports them; the issue treats them as
  documentation placeholders that an allowlist removes. The benchmark reports EMAIL
  both ways (placeholders as negatives, and as positives).
* placeholder and low-entropy secrets as they appear in docs and templates
  (``password = "changeme"``, ``api_key: YOUR_API_KEY``, ``token = "<your-token>"``,
  AWS's documented example key ``AKIAIOSFODNN7EXAMPLE``), ``lookalike`` the entity
  they imitate. Decision: these are **not** findings. GENERIC_SECRET is defined as
  *keyword = high-entropy value*; ``changeme`` is a weak password, but flagging every
  ``password = "changeme"`` in documentation is what makes secret scanners noisy, and a
  real weak password in a real config is out of scope for an entropy rule. Findings on
  them are reported separately so the choice stays visible.

Unlabelled text (names, companies, cities, prose) is negative by construction: a
finding there is a false positive.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
import json
import math
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

ENTITIES = (
    "EMAIL",
    "PHONE",
    "CREDIT_CARD",
    "IBAN",
    "US_SSN",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "URL_CREDENTIALS",
    "AWS_ACCESS_KEY",
    "GITHUB_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "SLACK_TOKEN",
    "STRIPE_KEY",
    "GOOGLE_API_KEY",
    "PRIVATE_KEY",
    "JWT",
    "GENERIC_SECRET",
)
PII = ENTITIES[:8]
SECRETS = ENTITIES[8:]

NEGATIVE_KINDS = (
    "order_number",
    "timestamp",
    "uuid",
    "version",
    "invoice_id",
    "luhn_invalid_card",
    "isbn",
    "tracking_number",
    "commit_hash",
    "placeholder",
)

#: Faker locale -> (template language, phone region)
LOCALES = {
    "en_US": ("en", "US"),
    "en_GB": ("en", "GB"),
    "de_DE": ("de", "DE"),
    "fr_FR": ("fr", "FR"),
    "es_ES": ("es", "ES"),
    "it_IT": ("it", "IT"),
    "nl_NL": ("nl", "NL"),
    "pt_BR": ("pt", "BR"),
    "ja_JP": ("ja", "JP"),
    "hi_IN": ("hi", "IN"),
}

KINDS = ("ticket", "chat", "email", "log", "config")


@dataclass(frozen=True)
class Span:
    """A labelled entity: ``text[start:end] == value``."""

    entity: str
    start: int
    end: int
    value: str
    variant: str = ""


@dataclass(frozen=True)
class Negative:
    """A hard negative: no scanner should report it (``lookalike``: what it imitates)."""

    kind: str
    start: int
    end: int
    value: str
    lookalike: str = ""


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    locale: str
    kind: str
    spans: tuple[Span, ...] = ()
    negatives: tuple[Negative, ...] = ()

    @property
    def lang(self) -> str:
        return LOCALES[self.locale][0]


# ----------------------------------------------------------------------------- validators
def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return bool(digits) and total % 10 == 0


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "").upper()
    if len(s) < 15 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def base62(n: int, width: int = 6) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = BASE62[r] + out
    return out.rjust(width, "0")


def github_checksum_ok(token: str) -> bool:
    """GitHub's classic token format: prefix_ + 30 base62 + base62(CRC32 of the 30)."""
    body = token.split("_", 1)[1]
    return len(body) == 36 and base62(binascii.crc32(body[:30].encode())) == body[30:]


def ssn_ok(ssn: str) -> bool:
    d = "".join(c for c in ssn if c.isdigit())
    if len(d) != 9:
        return False
    area, group, serial = int(d[:3]), int(d[3:5]), int(d[5:])
    return 0 < area < 900 and area != 666 and group > 0 and serial > 0


# ----------------------------------------------------------------------------- builder
class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.spans: list[Span] = []
        self.negs: list[Negative] = []

    def lit(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def ent(self, entity: str, value: str, variant: str = "") -> None:
        self.spans.append(Span(entity, self.pos, self.pos + len(value), value, variant))
        self.lit(value)

    def neg(self, kind: str, value: str, lookalike: str = "") -> None:
        self.negs.append(Negative(kind, self.pos, self.pos + len(value), value, lookalike))
        self.lit(value)

    def item(self, id_: str, locale: str, kind: str) -> Item:
        text = "".join(self.parts)
        for s in self.spans:
            assert text[s.start : s.end] == s.value, (s, text)
        for n in self.negs:
            assert text[n.start : n.end] == n.value, (n, text)
        return Item(id_, text, locale, kind, tuple(self.spans), tuple(self.negs))


Emit = Callable[[_Builder], None]


def _fill(b: _Builder, frame: str, slots: dict[str, Emit | str]) -> None:
    """Writes ``frame`` into ``b``; ``{name}`` slots are literal strings or emitters."""
    i = 0
    while True:
        j = frame.find("{", i)
        if j < 0:
            b.lit(frame[i:])
            return
        k = frame.index("}", j)
        b.lit(frame[i:j])
        slot = slots[frame[j + 1 : k]]
        if isinstance(slot, str):
            b.lit(slot)
        else:
            slot(b)
        i = k + 1


# ----------------------------------------------------------------------------- templates
# Each language: labels of the entities and negatives (used mid-sentence), and
# sentence frames per kind with {L} (label), {V} (value), {name}, {company}, {city}.
_LANG: dict[str, dict[str, object]] = {
    "en": {
        "labels": {
            "EMAIL": "my email",
            "PHONE": "my phone number",
            "CREDIT_CARD": "my card number",
            "IBAN": "my IBAN",
            "US_SSN": "my SSN",
            "IP_ADDRESS": "the server IP",
            "MAC_ADDRESS": "the device's MAC address",
            "URL_CREDENTIALS": "the database URL",
            "AWS_ACCESS_KEY": "our AWS access key",
            "GITHUB_TOKEN": "my GitHub token",
            "OPENAI_API_KEY": "the OpenAI API key",
            "ANTHROPIC_API_KEY": "the Anthropic key",
            "SLACK_TOKEN": "the Slack bot token",
            "STRIPE_KEY": "the Stripe secret key",
            "GOOGLE_API_KEY": "the Google Maps API key",
            "PRIVATE_KEY": "the deploy key",
            "JWT": "the session token",
            "GENERIC_SECRET": "the config line",
            "order_number": "my order number",
            "timestamp": "the error time",
            "uuid": "the request id",
            "version": "the app version",
            "invoice_id": "the invoice",
            "luhn_invalid_card": "my customer reference",
            "isbn": "the ISBN",
            "tracking_number": "the tracking number",
            "commit_hash": "the commit",
            "placeholder": "the example in the docs",
        },
        "ticket": [
            "Hi team, {name} from {company} here. For the record, {L} is {V}, please update the "
            "account.",
            "Hello support, I'm writing from {city}. Can you check {L} {V}? Thanks, {name}",
            "Issue: billing page fails.\nDetails: {L} = {V}\nReported by {name} ({company})",
        ],
        "chat": [
            "hey {name}, {L} is {V} btw",
            "sure, here you go: {V} (that's {L})",
            "ok so {L}... {V} — can you try again?",
        ],
        "email": [
            "Dear {name},\n\nas requested, {L} is {V}.\n\nKind regards,\n{name2}\n{company}",
            "Hi {name},\n\nquick follow-up from {city}: {L} is {V}. Let me know if anything is "
            "missing.\n\nBest,\n{name2}",
        ],
        "more": "Also, {L} is {V}.",
        "comment": "production settings, do not commit",
    },
    "de": {
        "labels": {
            "EMAIL": "meine E-Mail-Adresse",
            "PHONE": "meine Telefonnummer",
            "CREDIT_CARD": "meine Kartennummer",
            "IBAN": "meine IBAN",
            "US_SSN": "meine SSN",
            "IP_ADDRESS": "die Server-IP",
            "MAC_ADDRESS": "die MAC-Adresse des Geräts",
            "URL_CREDENTIALS": "die Datenbank-URL",
            "AWS_ACCESS_KEY": "unser AWS-Zugangsschlüssel",
            "GITHUB_TOKEN": "mein GitHub-Token",
            "OPENAI_API_KEY": "der OpenAI-API-Schlüssel",
            "ANTHROPIC_API_KEY": "der Anthropic-Schlüssel",
            "SLACK_TOKEN": "das Slack-Bot-Token",
            "STRIPE_KEY": "der geheime Stripe-Schlüssel",
            "GOOGLE_API_KEY": "der Google-Maps-Schlüssel",
            "PRIVATE_KEY": "der Deploy-Schlüssel",
            "JWT": "das Sitzungstoken",
            "GENERIC_SECRET": "die Konfigurationszeile",
            "order_number": "meine Bestellnummer",
            "timestamp": "der Zeitpunkt des Fehlers",
            "uuid": "die Anfrage-ID",
            "version": "die App-Version",
            "invoice_id": "die Rechnungsnummer",
            "luhn_invalid_card": "meine Kundennummer",
            "isbn": "die ISBN",
            "tracking_number": "die Sendungsnummer",
            "commit_hash": "die Commit-ID",
            "placeholder": "das Beispiel aus der Doku",
        },
        "ticket": [
            "Hallo Team, hier ist {name} von {company}. Zur Info: {L} lautet {V}, bitte im Konto "
            "aktualisieren.",
            "Guten Tag, ich schreibe aus {city}. Können Sie {L} {V} prüfen? Danke, {name}",
        ],
        "chat": ["hi {name}, {L} ist {V} übrigens", "klar, hier: {V} (das ist {L})"],
        "email": [
            "Sehr geehrte/r {name},\n\nwie gewünscht: {L} lautet {V}.\n\nMit freundlichen "
            "Grüßen\n{name2}\n{company}",
        ],
        "more": "Außerdem: {L} lautet {V}.",
        "comment": "Produktionskonfiguration - nicht committen",
    },
    "fr": {
        "labels": {
            "EMAIL": "mon adresse e-mail",
            "PHONE": "mon numéro de téléphone",
            "CREDIT_CARD": "mon numéro de carte",
            "IBAN": "mon IBAN",
            "US_SSN": "mon SSN",
            "IP_ADDRESS": "l'IP du serveur",
            "MAC_ADDRESS": "l'adresse MAC de l'appareil",
            "URL_CREDENTIALS": "l'URL de la base",
            "AWS_ACCESS_KEY": "notre clé d'accès AWS",
            "GITHUB_TOKEN": "mon jeton GitHub",
            "OPENAI_API_KEY": "la clé API OpenAI",
            "ANTHROPIC_API_KEY": "la clé Anthropic",
            "SLACK_TOKEN": "le jeton du bot Slack",
            "STRIPE_KEY": "la clé secrète Stripe",
            "GOOGLE_API_KEY": "la clé Google Maps",
            "PRIVATE_KEY": "la clé de déploiement",
            "JWT": "le jeton de session",
            "GENERIC_SECRET": "la ligne de config",
            "order_number": "mon numéro de commande",
            "timestamp": "l'heure de l'erreur",
            "uuid": "l'identifiant de la requête",
            "version": "la version de l'appli",
            "invoice_id": "la facture n°",
            "luhn_invalid_card": "ma référence client",
            "isbn": "l'ISBN",
            "tracking_number": "le numéro de suivi",
            "commit_hash": "le commit",
            "placeholder": "l'exemple de la doc",
        },
        "ticket": [
            "Bonjour, ici {name} de {company}. Pour info, {L} est {V}, merci de mettre à jour le "
            "compte.",
            "Bonjour le support, je vous écris de {city}. Pouvez-vous vérifier {L} {V} ? Merci, "
            "{name}",
        ],
        "chat": ["salut {name}, {L} c'est {V}", "voilà : {V} ({L})"],
        "email": [
            "Madame, Monsieur {name},\n\ncomme demandé, {L} est "
            "{V}.\n\nCordialement,\n{name2}\n{company}",
        ],
        "more": "Aussi, {L} est {V}.",
        "comment": "configuration de production, ne pas committer",
    },
    "es": {
        "labels": {
            "EMAIL": "mi correo",
            "PHONE": "mi teléfono",
            "CREDIT_CARD": "mi número de tarjeta",
            "IBAN": "mi IBAN",
            "US_SSN": "mi SSN",
            "IP_ADDRESS": "la IP del servidor",
            "MAC_ADDRESS": "la dirección MAC del equipo",
            "URL_CREDENTIALS": "la URL de la base de datos",
            "AWS_ACCESS_KEY": "nuestra clave de acceso de AWS",
            "GITHUB_TOKEN": "mi token de GitHub",
            "OPENAI_API_KEY": "la clave de API de OpenAI",
            "ANTHROPIC_API_KEY": "la clave de Anthropic",
            "SLACK_TOKEN": "el token del bot de Slack",
            "STRIPE_KEY": "la clave secreta de Stripe",
            "GOOGLE_API_KEY": "la clave de Google Maps",
            "PRIVATE_KEY": "la clave de despliegue",
            "JWT": "el token de sesión",
            "GENERIC_SECRET": "la línea de configuración",
            "order_number": "mi número de pedido",
            "timestamp": "la hora del error",
            "uuid": "el id de la petición",
            "version": "la versión de la app",
            "invoice_id": "la factura",
            "luhn_invalid_card": "mi referencia de cliente",
            "isbn": "el ISBN",
            "tracking_number": "el número de seguimiento",
            "commit_hash": "el commit",
            "placeholder": "el ejemplo de la documentación",
        },
        "ticket": [
            "Hola, soy {name} de {company}. Para que conste, {L} es {V}, por favor actualicen la "
            "cuenta.",
            "Buenas, escribo desde {city}. ¿Pueden revisar {L} {V}? Gracias, {name}",
        ],
        "chat": ["oye {name}, {L} es {V}", "vale, aquí está: {V} ({L})"],
        "email": [
            "Estimado/a {name}:\n\ncomo pidió, {L} es {V}.\n\nUn saludo,\n{name2}\n{company}"
        ],
        "more": "Además, {L} es {V}.",
        "comment": "configuración de producción, no subir al repositorio",
    },
    "it": {
        "labels": {
            "EMAIL": "la mia email",
            "PHONE": "il mio numero di telefono",
            "CREDIT_CARD": "il numero della mia carta",
            "IBAN": "il mio IBAN",
            "US_SSN": "il mio SSN",
            "IP_ADDRESS": "l'IP del server",
            "MAC_ADDRESS": "l'indirizzo MAC del dispositivo",
            "URL_CREDENTIALS": "l'URL del database",
            "AWS_ACCESS_KEY": "la nostra chiave di accesso AWS",
            "GITHUB_TOKEN": "il mio token GitHub",
            "OPENAI_API_KEY": "la chiave API di OpenAI",
            "ANTHROPIC_API_KEY": "la chiave Anthropic",
            "SLACK_TOKEN": "il token del bot Slack",
            "STRIPE_KEY": "la chiave segreta Stripe",
            "GOOGLE_API_KEY": "la chiave di Google Maps",
            "PRIVATE_KEY": "la chiave di deploy",
            "JWT": "il token di sessione",
            "GENERIC_SECRET": "la riga di configurazione",
            "order_number": "il mio numero d'ordine",
            "timestamp": "l'ora dell'errore",
            "uuid": "l'id della richiesta",
            "version": "la versione dell'app",
            "invoice_id": "la fattura n.",
            "luhn_invalid_card": "il mio codice cliente",
            "isbn": "l'ISBN",
            "tracking_number": "il numero di tracciamento",
            "commit_hash": "il commit",
            "placeholder": "l'esempio della documentazione",
        },
        "ticket": [
            "Buongiorno, sono {name} di {company}. Per completezza, {L} è {V}, aggiornate "
            "l'account per favore.",
            "Salve, scrivo da {city}. Potete verificare {L} {V}? Grazie, {name}",
        ],
        "chat": ["ciao {name}, {L} è {V}", "ecco qui: {V} ({L})"],
        "email": [
            "Gentile {name},\n\ncome richiesto, {L} è {V}.\n\nCordiali saluti,\n{name2}\n{company}"
        ],
        "more": "Inoltre, {L} è {V}.",
        "comment": "configurazione di produzione, non committare",
    },
    "nl": {
        "labels": {
            "EMAIL": "mijn e-mailadres",
            "PHONE": "mijn telefoonnummer",
            "CREDIT_CARD": "mijn kaartnummer",
            "IBAN": "mijn IBAN",
            "US_SSN": "mijn SSN",
            "IP_ADDRESS": "het IP van de server",
            "MAC_ADDRESS": "het MAC-adres van het apparaat",
            "URL_CREDENTIALS": "de database-URL",
            "AWS_ACCESS_KEY": "onze AWS-toegangssleutel",
            "GITHUB_TOKEN": "mijn GitHub-token",
            "OPENAI_API_KEY": "de OpenAI-API-sleutel",
            "ANTHROPIC_API_KEY": "de Anthropic-sleutel",
            "SLACK_TOKEN": "het Slack-bottoken",
            "STRIPE_KEY": "de geheime Stripe-sleutel",
            "GOOGLE_API_KEY": "de Google Maps-sleutel",
            "PRIVATE_KEY": "de deploy-sleutel",
            "JWT": "het sessietoken",
            "GENERIC_SECRET": "de configuratieregel",
            "order_number": "mijn ordernummer",
            "timestamp": "het tijdstip van de fout",
            "uuid": "het request-id",
            "version": "de app-versie",
            "invoice_id": "het factuurnummer",
            "luhn_invalid_card": "mijn klantreferentie",
            "isbn": "het ISBN",
            "tracking_number": "het trackingnummer",
            "commit_hash": "de commit",
            "placeholder": "het voorbeeld uit de documentatie",
        },
        "ticket": [
            "Hallo, {name} van {company} hier. Ter info: {L} is {V}, graag het account bijwerken.",
            "Beste support, ik schrijf vanuit {city}. Kunnen jullie {L} {V} controleren? Dank, "
            "{name}",
        ],
        "chat": ["hoi {name}, {L} is {V}", "hier is het: {V} ({L})"],
        "email": [
            "Beste {name},\n\nzoals gevraagd: {L} is {V}.\n\nMet vriendelijke "
            "groet,\n{name2}\n{company}"
        ],
        "more": "Verder: {L} is {V}.",
        "comment": "productieconfiguratie, niet committen",
    },
    "pt": {
        "labels": {
            "EMAIL": "meu e-mail",
            "PHONE": "meu telefone",
            "CREDIT_CARD": "o número do meu cartão",
            "IBAN": "meu IBAN",
            "US_SSN": "meu SSN",
            "IP_ADDRESS": "o IP do servidor",
            "MAC_ADDRESS": "o endereço MAC do aparelho",
            "URL_CREDENTIALS": "a URL do banco de dados",
            "AWS_ACCESS_KEY": "nossa chave de acesso da AWS",
            "GITHUB_TOKEN": "meu token do GitHub",
            "OPENAI_API_KEY": "a chave de API da OpenAI",
            "ANTHROPIC_API_KEY": "a chave da Anthropic",
            "SLACK_TOKEN": "o token do bot do Slack",
            "STRIPE_KEY": "a chave secreta da Stripe",
            "GOOGLE_API_KEY": "a chave do Google Maps",
            "PRIVATE_KEY": "a chave de deploy",
            "JWT": "o token de sessão",
            "GENERIC_SECRET": "a linha de configuração",
            "order_number": "o número do meu pedido",
            "timestamp": "o horário do erro",
            "uuid": "o id da requisição",
            "version": "a versão do app",
            "invoice_id": "a nota fiscal",
            "luhn_invalid_card": "meu código de cliente",
            "isbn": "o ISBN",
            "tracking_number": "o código de rastreamento",
            "commit_hash": "o commit",
            "placeholder": "o exemplo da documentação",
        },
        "ticket": [
            "Olá, aqui é {name} da {company}. Para constar, {L} é {V}, por favor atualizem a "
            "conta.",
            "Oi suporte, escrevo de {city}. Podem conferir {L} {V}? Obrigado, {name}",
        ],
        "chat": ["oi {name}, {L} é {V}", "beleza, aqui: {V} ({L})"],
        "email": [
            "Prezado(a) {name},\n\nconforme solicitado, {L} é "
            "{V}.\n\nAtenciosamente,\n{name2}\n{company}"
        ],
        "more": "Além disso, {L} é {V}.",
        "comment": "configuração de produção, não commitar",
    },
    "ja": {
        "labels": {
            "EMAIL": "私のメールアドレス",
            "PHONE": "私の電話番号",
            "CREDIT_CARD": "カード番号",
            "IBAN": "IBAN",
            "US_SSN": "SSN",
            "IP_ADDRESS": "サーバーのIP",
            "MAC_ADDRESS": "端末のMACアドレス",
            "URL_CREDENTIALS": "データベースのURL",
            "AWS_ACCESS_KEY": "AWSのアクセスキー",
            "GITHUB_TOKEN": "GitHubのトークン",
            "OPENAI_API_KEY": "OpenAIのAPIキー",
            "ANTHROPIC_API_KEY": "AnthropicのAPIキー",
            "SLACK_TOKEN": "Slackボットのトークン",
            "STRIPE_KEY": "Stripeのシークレットキー",
            "GOOGLE_API_KEY": "Google MapsのAPIキー",
            "PRIVATE_KEY": "デプロイ用の秘密鍵",
            "JWT": "セッショントークン",
            "GENERIC_SECRET": "設定ファイルの行",
            "order_number": "注文番号",
            "timestamp": "エラー発生時刻",
            "uuid": "リクエストID",
            "version": "アプリのバージョン",
            "invoice_id": "請求書番号",
            "luhn_invalid_card": "お客様番号",
            "isbn": "ISBN",
            "tracking_number": "追跡番号",
            "commit_hash": "コミット",
            "placeholder": "ドキュメントの例",
        },
        "ticket": [
            "お世話になっております。{company}の{name}です。"
            "{L}は {V} です。アカウントの更新をお願いします。",
            "{city}から連絡しています。{L} {V} を確認していただけますか。{name}",
        ],
        "chat": ["{name}さん、{L}は {V} です", "はい、これです: {V}\uff08{L}\uff09"],
        "email": [
            "{name}様\n\nご依頼の件、{L}は {V} です。\n\n"
            "よろしくお願いいたします。\n{company} {name2}"
        ],
        "more": "また、{L}は {V} です。",
        "comment": "本番設定 コミットしないこと",
    },
    "hi": {
        "labels": {
            "EMAIL": "मेरा ईमेल",
            "PHONE": "मेरा फ़ोन नंबर",
            "CREDIT_CARD": "मेरा कार्ड नंबर",
            "IBAN": "मेरा IBAN",
            "US_SSN": "मेरा SSN",
            "IP_ADDRESS": "सर्वर का IP",
            "MAC_ADDRESS": "डिवाइस का MAC पता",
            "URL_CREDENTIALS": "डेटाबेस URL",
            "AWS_ACCESS_KEY": "हमारी AWS एक्सेस की",
            "GITHUB_TOKEN": "मेरा GitHub टोकन",
            "OPENAI_API_KEY": "OpenAI API की",
            "ANTHROPIC_API_KEY": "Anthropic की",
            "SLACK_TOKEN": "Slack बॉट टोकन",
            "STRIPE_KEY": "Stripe सीक्रेट की",
            "GOOGLE_API_KEY": "Google Maps API की",
            "PRIVATE_KEY": "डिप्लॉय की",
            "JWT": "सेशन टोकन",
            "GENERIC_SECRET": "कॉन्फ़िग लाइन",
            "order_number": "मेरा ऑर्डर नंबर",
            "timestamp": "त्रुटि का समय",
            "uuid": "रिक्वेस्ट आईडी",
            "version": "ऐप का वर्ज़न",
            "invoice_id": "इनवॉइस नंबर",
            "luhn_invalid_card": "मेरा ग्राहक संदर्भ",
            "isbn": "ISBN",
            "tracking_number": "ट्रैकिंग नंबर",
            "commit_hash": "कमिट",
            "placeholder": "डॉक्स का उदाहरण",
        },
        "ticket": [
            "नमस्ते, मैं {company} से {name} हूँ। {L} {V} है, कृपया खाता अपडेट करें।",
            "नमस्कार सपोर्ट, मैं {city} से लिख रहा हूँ। क्या आप {L} {V} जाँच सकते हैं? धन्यवाद, {name}",
        ],
        "chat": ["हाय {name}, {L} {V} है", "ठीक है, यह रहा: {V} ({L})"],
        "email": ["प्रिय {name},\n\nआपके अनुरोध पर, {L} {V} है।\n\nसादर,\n{name2}\n{company}"],
        "more": "साथ ही, {L} {V} है।",
        "comment": "प्रोडक्शन सेटिंग्स, commit न करें",
    },
}

#: config / log key names per entity (and per negative kind)
_KEYS = {
    "EMAIL": ["email", "support_email", "SMTP_FROM", "owner"],
    "PHONE": ["phone", "oncall_phone", "TWILIO_FROM", "contact_phone"],
    "CREDIT_CARD": ["card_number", "pan", "cc"],
    "IBAN": ["iban", "payout_iban", "BANK_IBAN"],
    "US_SSN": ["ssn", "tax_id", "employee_ssn"],
    "IP_ADDRESS": ["client_ip", "host", "remote_addr", "BIND_ADDR"],
    "MAC_ADDRESS": ["mac", "device_mac", "hwaddr"],
    "URL_CREDENTIALS": ["DATABASE_URL", "broker_url", "redis_url", "dsn"],
    "AWS_ACCESS_KEY": ["AWS_ACCESS_KEY_ID", "aws_access_key_id", "access_key"],
    "GITHUB_TOKEN": ["GITHUB_TOKEN", "gh_token", "GH_PAT"],
    "OPENAI_API_KEY": ["OPENAI_API_KEY", "openai_key", "llm_api_key"],
    "ANTHROPIC_API_KEY": ["ANTHROPIC_API_KEY", "anthropic_key", "claude_key"],
    "SLACK_TOKEN": ["SLACK_BOT_TOKEN", "slack_token", "SLACK_API_TOKEN"],
    "STRIPE_KEY": ["STRIPE_SECRET_KEY", "stripe_key", "STRIPE_API_KEY"],
    "GOOGLE_API_KEY": ["GOOGLE_API_KEY", "maps_api_key", "firebase_api_key"],
    "PRIVATE_KEY": ["PRIVATE_KEY", "private_key", "SSH_KEY"],
    "JWT": ["auth_token", "bearer", "id_token", "SESSION_JWT"],
    "GENERIC_SECRET": [
        "password",
        "db_password",
        "client_secret",
        "api_key",
        "secret_key",
        "token",
        "passwd",
        "auth_secret",
    ],
    "order_number": ["order_id", "order"],
    "timestamp": ["ts", "created_at"],
    "uuid": ["request_id", "trace_id"],
    "version": ["version", "app_version"],
    "invoice_id": ["invoice", "invoice_no"],
    "luhn_invalid_card": ["customer_ref", "contract_no"],
    "isbn": ["isbn"],
    "tracking_number": ["tracking", "shipment_id"],
    "commit_hash": ["commit", "git_sha"],
    "placeholder": ["contact_email", "from", "example"],
}
_LOCALIZED_SECRET_KW = {
    "de": "Passwort",
    "fr": "mot de passe",
    "es": "contraseña",
    "it": "password",
    "nl": "wachtwoord",
    "pt": "senha",
    "ja": "パスワード",
    "hi": "पासवर्ड",
    "en": "password",
}


# ----------------------------------------------------------------------------- values
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
B32 = string.ascii_uppercase + "234567"
HEX = "0123456789abcdef"


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def aws_key(rng: random.Random) -> str:
    return rng.choice(["AKIA", "AKIA", "AKIA", "ASIA"]) + _rand(rng, B32, 16)


def github_token(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.25:
        return "github_pat_" + _rand(rng, ALNUM, 22) + "_" + _rand(rng, ALNUM, 59), "fine_grained"
    prefix = rng.choice(["ghp", "ghp", "ghp", "gho", "ghu", "ghs", "ghr"])
    body = _rand(rng, ALNUM, 30)
    return f"{prefix}_{body}{base62(binascii.crc32(body.encode()))}", prefix


def openai_key(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.35:
        return "sk-" + _rand(rng, ALNUM, 20) + "T3BlbkFJ" + _rand(rng, ALNUM, 20), "legacy"
    kind = rng.choice(["proj", "proj", "proj", "svcacct", "admin"])
    return (
        f"sk-{kind}-"
        + _rand(rng, URLSAFE, 58)
        + _rand(rng, ALNUM, 20)
        + "T3BlbkFJ"
        + _rand(rng, URLSAFE, 58)
        + _rand(rng, ALNUM, 20),
        kind,
    )


def anthropic_key(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["api03", "api03", "api03", "admin01"])
    return f"sk-ant-{kind}-" + _rand(rng, URLSAFE, 93) + "AA", kind


def slack_token(rng: random.Random) -> tuple[str, str]:
    r = rng.random()
    digits = string.digits
    if r < 0.6:
        return (
            f"xoxb-{_rand(rng, digits, rng.choice([11, 12, 13]))}-"
            f"{_rand(rng, digits, 13)}-{_rand(rng, ALNUM, 24)}",
            "xoxb",
        )
    if r < 0.85:
        return (
            f"xoxp-{_rand(rng, digits, 12)}-{_rand(rng, digits, 12)}-"
            f"{_rand(rng, digits, 13)}-{_rand(rng, HEX, 32)}",
            "xoxp",
        )
    return (
        f"https://hooks.slack.com/services/T{_rand(rng, B32, 8)}/B{_rand(rng, B32, 10)}/"
        f"{_rand(rng, ALNUM, 24)}",
        "webhook",
    )


def stripe_key(rng: random.Random) -> tuple[str, str]:
    prefix = rng.choice(["sk_live_", "sk_live_", "rk_live_", "sk_test_"])
    return prefix + _rand(rng, ALNUM, rng.choice([24, 99])), prefix.rstrip("_")


def google_key(rng: random.Random) -> str:
    return "AIza" + _rand(rng, URLSAFE, 35)


def jwt(rng: random.Random, fk: object) -> str:
    alg = rng.choice(["HS256", "HS256", "HS384", "HS512"])
    header = {"alg": alg, "typ": "JWT"}
    iat = 1_700_000_000 + rng.randrange(50_000_000)
    payload = {
        "sub": str(rng.randrange(10**6, 10**9)),
        "name": fk.name(),  # type: ignore[attr-defined]
        "iat": iat,
        "exp": iat + 3600,
    }
    if rng.random() < 0.5:
        payload["scope"] = rng.choice(["read", "read write", "admin"])
    signing = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    )
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(rng.randbytes(32), signing.encode(), digest).digest()
    return signing + "." + _b64url(sig)


def high_entropy(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.4:
        return _rand(rng, ALNUM + "!#$%&*+-=?@^_~", rng.randint(16, 32))
    if style < 0.7:
        return _rand(rng, ALNUM, rng.randint(24, 40))
    if style < 0.85:
        return _rand(rng, HEX, rng.choice([32, 40, 64]))
    return base64.b64encode(rng.randbytes(rng.choice([24, 30, 32]))).decode()


# --- PEM private keys: real keys from seeded numbers (deterministic)
def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(8):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


_SMALL_PRIMES = [p for p in range(3, 4000) if all(p % q for q in range(2, int(p**0.5) + 1))]
_SMALL_PRODUCT = functools.reduce(lambda a, b: a * b, _SMALL_PRIMES)


def _prime(bits: int, rng: random.Random) -> int:
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if math.gcd(c, _SMALL_PRODUCT) == 1 and c % 65537 != 1 and _is_probable_prime(c, rng):
            return c


@functools.cache
def _pem_pool(seed: int) -> tuple[tuple[str, str], ...]:
    """(pem, variant) pairs: RSA (PKCS#1 and PKCS#8), EC P-256 (SEC1), Ed25519 (OpenSSH)."""
    rng = random.Random(seed ^ 0x5EED)
    try:
        from cryptography.hazmat.primitives import serialization as ser
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    except ImportError:  # realistic bodies without the cryptography package
        out = []
        for label, nbytes in [
            ("RSA PRIVATE KEY", 1190),
            ("PRIVATE KEY", 1217),
            ("EC PRIVATE KEY", 121),
            ("OPENSSH PRIVATE KEY", 399),
        ] * 3:
            body = base64.b64encode(rng.randbytes(nbytes)).decode()
            lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
            out.append((f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----", label))
        return tuple(out)
    keys: list[tuple[object, str]] = []
    for bits in (2048, 1024, 1024):
        p, q = _prime(bits // 2, rng), _prime(bits // 2, rng)
        e, n = 65537, p * q
        d = pow(e, -1, (p - 1) * (q - 1))
        pub = rsa.RSAPublicNumbers(e, n)
        priv = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), pub)
        keys.append((priv.private_key(), "rsa"))
    for _ in range(4):
        keys.append((ec.derive_private_key(rng.randrange(1, 2**255), ec.SECP256R1()), "ec"))
        keys.append((ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)), "ed25519"))
    out = []
    for i, (k, kind) in enumerate(keys):
        if kind == "ed25519":
            fmt, variant = ser.PrivateFormat.OpenSSH, "openssh"
        elif i % 2:
            fmt, variant = ser.PrivateFormat.PKCS8, "pkcs8"
        else:
            fmt, variant = ser.PrivateFormat.TraditionalOpenSSL, kind + "_traditional"
        pem = k.private_bytes(ser.Encoding.PEM, fmt, ser.NoEncryption()).decode()  # type: ignore[attr-defined]
        if variant == "openssh":
            pem = _fixed_checkint(pem, rng.getrandbits(32))
        out.append((pem.strip(), variant))
    return tuple(out)


def _fixed_checkint(pem: str, check: int) -> str:
    """An OpenSSH key with its two random check ints (urandom in ``cryptography``) set
    to ``check``, so the same seed gives the same text; the key stays loadable."""
    lines = pem.strip().split("\n")
    blob = base64.b64decode("".join(lines[1:-1]))
    off = len(b"openssh-key-v1\0")
    for _ in range(3):  # ciphername, kdfname, kdfoptions
        off += 4 + int.from_bytes(blob[off : off + 4], "big")
    off += 4  # number of keys
    off += 4 + int.from_bytes(blob[off : off + 4], "big")  # public key
    off += 4  # length of the private section, which starts with checkint, checkint
    c = check.to_bytes(4, "big")
    blob = blob[:off] + c + c + blob[off + 8 :]
    body = base64.b64encode(blob).decode()
    wrapped = "\n".join(body[i : i + 70] for i in range(0, len(body), 70))
    return f"{lines[0]}\n{wrapped}\n{lines[-1]}"


# --- hard negatives
def neg_value(kind: str, rng: random.Random) -> str:
    d = string.digits
    if kind == "order_number":
        return rng.choice(
            [
                f"{_rand(rng, d, 3)}-{_rand(rng, d, 7)}-{_rand(rng, d, 7)}",
                f"ORD-{rng.randint(2019, 2026)}-{_rand(rng, d, 6)}",
                f"#{_rand(rng, d, 8)}",
                f"{_rand(rng, d, 4)}-{_rand(rng, d, 4)}-{_rand(rng, d, 4)}",
            ]
        )
    if kind == "timestamp":
        epoch = 1_600_000_000 + rng.randrange(200_000_000)
        y, mo, da = rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28)
        h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        return rng.choice(
            [
                f"{y}-{mo:02d}-{da:02d}T{h:02d}:{mi:02d}:{s:02d}Z",
                f"{y}-{mo:02d}-{da:02d}T{h:02d}:{mi:02d}:{s:02d}.{rng.randrange(1000):03d}+02:00",
                str(epoch),
                str(epoch * 1000 + rng.randrange(1000)),
                f"{da:02d}/{mo:02d}/{y} {h:02d}:{mi:02d}",
                f"{y}{mo:02d}{da:02d}{h:02d}{mi:02d}{s:02d}",
            ]
        )
    if kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == "version":
        return rng.choice(
            [
                f"v{rng.randint(0, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 30)}",
                f"{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
                f"-rc.{rng.randint(1, 4)}",
                f"{rng.randint(1, 11)}.0.{rng.randint(1000, 30000)}.{rng.randint(1, 3000)}",
                f"build {rng.randint(2019, 2026)}{rng.randint(1, 12):02d}"
                f"{rng.randint(1, 28):02d}.{rng.randint(1, 9)}",
            ]
        )
    if kind == "invoice_id":
        return rng.choice(
            [
                f"{_rand(rng, d, 3)}-{_rand(rng, d, 3)}-{_rand(rng, d, 4)}",
                f"{rng.randint(2019, 2026)}-{_rand(rng, d, 4)}-{_rand(rng, d, 4)}",
                f"{_rand(rng, d, 3)} {_rand(rng, d, 4)} {_rand(rng, d, 4)}",
                f"RE-{_rand(rng, d, 3)}-{_rand(rng, d, 3)}-{_rand(rng, d, 3)}",
            ]
        )
    if kind == "luhn_invalid_card":
        while True:
            num = rng.choice("45") + _rand(rng, d, 15)
            if not luhn_ok(num):
                break
        sep = rng.choice([" ", "-", ""])
        return sep.join(num[i : i + 4] for i in range(0, 16, 4))
    if kind == "isbn":
        core = rng.choice(["978", "979"]) + _rand(rng, d, 9)
        check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(core)) % 10) % 10
        return f"{core[:3]}-{core[3]}-{core[4:8]}-{core[8:]}-{check}"
    if kind == "tracking_number":
        return rng.choice(
            [
                "1Z" + _rand(rng, string.ascii_uppercase + d, 6) + _rand(rng, d, 10),
                " ".join(["9400"] + [_rand(rng, d, 4) for _ in range(4)] + [_rand(rng, d, 2)]),
                _rand(rng, d, 10),
                "JJD" + _rand(rng, d, 18),
            ]
        )
    if kind == "commit_hash":
        return _rand(rng, HEX, rng.choice([40, 40, 7, 10, 12]))
    raise ValueError(kind)


def placeholder_email(rng: random.Random, fk: object) -> str:
    user = rng.choice(["user", "jane.doe", "john", "you", "admin", "test", "name", fk.user_name()])  # type: ignore[attr-defined]
    dom = rng.choice(
        [
            "example.com",
            "example.org",
            "example.net",
            "mail.example",
            "company.test",
            "example.co.uk",
        ]
    )
    return f"{user}@{dom}"


_PLACEHOLDER_SECRETS = [
    ("changeme", "GENERIC_SECRET"),
    ("password", "GENERIC_SECRET"),
    ("YOUR_API_KEY", "GENERIC_SECRET"),
    ("<your-token>", "GENERIC_SECRET"),
    ("********", "GENERIC_SECRET"),
    ("xxxxxxxxxxxxxxxx", "GENERIC_SECRET"),
    ("${DB_PASSWORD}", "GENERIC_SECRET"),
    ("secret", "GENERIC_SECRET"),
    ("hunter2", "GENERIC_SECRET"),
    ("12345678", "GENERIC_SECRET"),
    ("AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY"),
    ("sk-...", "OPENAI_API_KEY"),
    ("sk_test_xxxxxxxxxxxxxxxxxxxxxxxx", "STRIPE_KEY"),
]


# ----------------------------------------------------------------------------- generator
@dataclass
class _Ctx:
    rng: random.Random
    fakers: dict[str, object]
    seed: int
    us: object = field(init=False)

    def __post_init__(self) -> None:
        self.us = self.fakers["en_US"]


def _phone(ctx: _Ctx, locale: str) -> str:
    import phonenumbers

    fk, region = ctx.fakers[locale], LOCALES[locale][1]
    for _ in range(50):
        p = fk.phone_number()  # type: ignore[attr-defined]
        if "x" in p or "ext" in p.lower():
            continue
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(p, region)):
                return p
        except phonenumbers.NumberParseException:
            continue
    raise RuntimeError(f"no valid phone number for {locale}")


def _card(ctx: _Ctx, locale: str) -> tuple[str, str]:
    fk, rng = ctx.fakers[locale], ctx.rng
    ctype = rng.choice(
        ["visa16", "visa16", "mastercard", "mastercard", "amex", "discover", "jcb16", "diners"]
    )
    num = fk.credit_card_number(card_type=ctype)  # type: ignore[attr-defined]
    sep = rng.choice([" ", " ", "-", ""])
    if len(num) == 15:
        groups = [num[:4], num[4:10], num[10:]]
    elif len(num) == 14:
        groups = [num[:4], num[4:10], num[10:]]
    else:
        groups = [num[i : i + 4] for i in range(0, len(num), 4)]
    return sep.join(groups), ctype


def _value(entity: str, ctx: _Ctx, locale: str) -> tuple[str, str]:
    """(value, variant) of one entity."""
    rng, fk = ctx.rng, ctx.fakers[locale]
    if entity == "EMAIL":
        if rng.random() < 0.5:
            return fk.free_email(), "free"  # type: ignore[attr-defined]
        return fk.company_email(), "company"  # type: ignore[attr-defined]
    if entity == "PHONE":
        return _phone(ctx, locale), LOCALES[locale][1]
    if entity == "CREDIT_CARD":
        return _card(ctx, locale)
    if entity == "IBAN":
        iban = fk.iban()  # type: ignore[attr-defined]
        if rng.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)), "print"
        return iban, "electronic"
    if entity == "US_SSN":
        while True:
            ssn = ctx.us.ssn()  # type: ignore[attr-defined]
            if ssn_ok(ssn):
                break
        r = rng.random()
        if r < 0.8:
            return ssn, "dashed"
        return (ssn.replace("-", " "), "spaced") if r < 0.9 else (ssn.replace("-", ""), "plain")
    if entity == "IP_ADDRESS":
        r = rng.random()
        if r < 0.45:
            return fk.ipv4_public(), "ipv4"  # type: ignore[attr-defined]
        if r < 0.6:
            return fk.ipv4_private(), "ipv4_private"  # type: ignore[attr-defined]
        v6 = ipaddress.IPv6Address(fk.ipv6())  # type: ignore[attr-defined]
        if r < 0.8:
            return v6.exploded, "ipv6_full"
        # a documentation-free, realistic compressed form: zero a run of groups
        parts = v6.exploded.split(":")
        k = rng.randint(2, 5)
        return str(
            ipaddress.IPv6Address(":".join(parts[:k] + ["0"] * (8 - k - 1) + parts[-1:]))
        ), "ipv6_compressed"
    if entity == "MAC_ADDRESS":
        mac = fk.mac_address()  # type: ignore[attr-defined]
        r = rng.random()
        if r < 0.5:
            return mac, "colon"
        if r < 0.8:
            return mac.upper().replace(":", "-"), "dash"
        h = mac.replace(":", "")
        return f"{h[:4]}.{h[4:8]}.{h[8:]}", "cisco"
    if entity == "AWS_ACCESS_KEY":
        v = aws_key(rng)
        return v, v[:4]
    if entity == "GITHUB_TOKEN":
        return github_token(rng)
    if entity == "OPENAI_API_KEY":
        return openai_key(rng)
    if entity == "ANTHROPIC_API_KEY":
        return anthropic_key(rng)
    if entity == "SLACK_TOKEN":
        return slack_token(rng)
    if entity == "STRIPE_KEY":
        return stripe_key(rng)
    if entity == "GOOGLE_API_KEY":
        return google_key(rng), "AIza"
    if entity == "JWT":
        return jwt(rng, fk), "hs"
    if entity == "PRIVATE_KEY":
        return rng.choice(_pem_pool(ctx.seed))
    raise ValueError(entity)


def _url_credentials(b: _Builder, ctx: _Ctx, locale: str) -> None:
    rng, fk = ctx.rng, ctx.fakers[locale]
    scheme, port, path = rng.choice(
        [
            ("postgres", 5432, "/app"),
            ("postgresql", 5432, "/analytics"),
            ("mysql", 3306, "/shop"),
            ("mongodb+srv", None, "/prod?retryWrites=true"),
            ("redis", 6379, "/0"),
            ("amqp", 5672, "/vhost"),
            ("https", None, "/repo.git"),
            ("ftp", 21, "/upload"),
        ]
    )
    user = rng.choice([fk.user_name(), "admin", "app", "svc_" + fk.user_name()])  # type: ignore[attr-defined]
    pw = _rand(rng, ALNUM + "-_.~", rng.randint(10, 24))
    host = rng.choice([fk.domain_name(), f"db-{rng.randint(1, 9)}.internal", fk.ipv4_private()])  # type: ignore[attr-defined]
    b.lit(f"{scheme}://")
    b.ent("URL_CREDENTIALS", f"{user}:{pw}", scheme)
    b.lit(f"@{host}{':' + str(port) if port else ''}{path}")


def _generic_secret(b: _Builder, ctx: _Ctx, lang: str, placeholder: bool = False) -> None:
    rng = ctx.rng
    if lang != "en" and rng.random() < 0.25:
        kw = _LOCALIZED_SECRET_KW[lang]
        fmt = rng.choice(["{k}: {v}", '{k} = "{v}"'])
    else:
        kw = rng.choice(
            _KEYS["GENERIC_SECRET"] + ["DB_PASSWORD", "JWT_SECRET", "aws_secret_access_key"]
        )
        fmt = rng.choice(['{k} = "{v}"', "{k}: {v}", "{k}={v}", '"{k}": "{v}"', "{k}='{v}'"])
    pre, post = fmt.split("{v}")
    b.lit(pre.replace("{k}", kw))
    if placeholder:
        value, look = rng.choice(_PLACEHOLDER_SECRETS)
        b.neg("placeholder", value, look)
    elif kw == "aws_secret_access_key":
        b.ent("GENERIC_SECRET", base64.b64encode(rng.randbytes(30)).decode(), "aws_secret")
    else:
        b.ent("GENERIC_SECRET", high_entropy(rng), "keyword")
    b.lit(post)


def _emitter(what: str, ctx: _Ctx, locale: str, lang: str, style: str = "prose") -> Emit:
    """An emitter of one entity or negative kind (``style``: prose, config or log)."""
    rng = ctx.rng
    if what == "URL_CREDENTIALS":
        return lambda b: _url_credentials(b, ctx, locale)
    if what == "GENERIC_SECRET":
        return lambda b: _generic_secret(b, ctx, lang)
    if what == "placeholder_secret":
        return lambda b: _generic_secret(b, ctx, lang, placeholder=True)
    if what == "placeholder":
        return lambda b: b.neg("placeholder", placeholder_email(rng, ctx.fakers[locale]), "EMAIL")
    if what in NEGATIVE_KINDS:
        return lambda b: b.neg(what, neg_value(what, rng))
    value, variant = _value(what, ctx, locale)
    if what == "PRIVATE_KEY":
        if style == "config" and rng.random() < 0.4:  # a service-account JSON file's form
            esc = value.replace("\n", "\\n") + "\\n"
            return lambda b: b.ent(what, esc, "json_escaped")
        return lambda b: (b.lit("\n"), b.ent(what, value, variant), b.lit("\n"))  # type: ignore[func-returns-value]
    return lambda b: b.ent(what, value, variant)


#: Faker's it_IT city() depends on the interpreter's hash seed; these do not
_IT_CITIES = (
    "Milano",
    "Torino",
    "Bologna",
    "Firenze",
    "Napoli",
    "Bari",
    "Verona",
    "Trento",
    "Perugia",
    "Cagliari",
    "Ancona",
    "Lecce",
)


def _city(ctx: _Ctx, locale: str) -> str:
    if locale == "it_IT":
        return ctx.rng.choice(_IT_CITIES)
    return ctx.fakers[locale].city()  # type: ignore[attr-defined, no-any-return]


def _prose(ctx: _Ctx, lang: str, kind: str, locale: str, whats: list[str]) -> _Builder:
    rng, fk = ctx.rng, ctx.fakers[locale]
    t = _LANG[lang]
    labels: dict[str, str] = t["labels"]  # type: ignore[assignment]
    b = _Builder()
    names = {
        "name": fk.name(),
        "name2": fk.name(),
        "company": fk.company(),
        "city": _city(ctx, locale),
    }  # type: ignore[attr-defined]
    for n, what in enumerate(whats):
        if n:
            b.lit("\n" if kind == "email" else " ")
        label_key = "GENERIC_SECRET" if what == "placeholder_secret" else what
        # one greeting per message: later entities in a follow-up sentence
        frame = str(t["more"]) if n else rng.choice(t[kind])  # type: ignore[index]
        _fill(b, frame, {**names, "L": labels[label_key], "V": _emitter(what, ctx, locale, lang)})
    return b


def _config(ctx: _Ctx, lang: str, locale: str, whats: list[str]) -> _Builder:
    rng = ctx.rng
    b = _Builder()
    style = rng.choice(["env", "yaml", "json", "ini"])
    b.lit(("// " if style == "json" else "# ") + str(_LANG[lang]["comment"]) + "\n")
    if style == "json":
        b.lit("{\n")
    lines = list(whats)
    extra = rng.choice(["version", "commit_hash", "uuid", None])
    if extra:
        lines.append(extra)
    for n, what in enumerate(lines):
        if what in ("GENERIC_SECRET", "placeholder_secret"):
            _generic_secret(b, ctx, "en", placeholder=what == "placeholder_secret")
        else:
            key = rng.choice(_KEYS.get(what, ["value"]))
            em = _emitter(what, ctx, locale, lang, style="config")
            if what == "PRIVATE_KEY" and style != "json":
                value, variant = _value("PRIVATE_KEY", ctx, locale)
                b.lit(f'{key.upper()}="')
                b.ent("PRIVATE_KEY", value, variant)
                b.lit('"')
            elif style == "env":
                b.lit(f"{key.upper()}=")
                em(b)
            elif style == "yaml":
                b.lit(f"  {key.lower()}: ")
                em(b)
            elif style == "ini":
                b.lit(f"{key.lower()} = ")
                em(b)
            else:
                b.lit(f'  "{key.lower()}": "')
                if what == "PRIVATE_KEY":
                    value, _ = _value("PRIVATE_KEY", ctx, locale)
                    b.ent("PRIVATE_KEY", value.replace("\n", "\\n") + "\\n", "json_escaped")
                else:
                    em(b)
                b.lit('"')
        if style == "json" and n < len(lines) - 1:
            b.lit(",")
        b.lit("\n")
    if style == "json":
        b.lit("}\n")
    return b


def _log(ctx: _Ctx, lang: str, locale: str, whats: list[str]) -> _Builder:
    rng = ctx.rng
    b = _Builder()
    for n, what in enumerate(whats):
        if n:
            b.lit("\n")
        b.neg(
            "timestamp",
            neg_value("timestamp", rng)[:19] if rng.random() < 0.5 else neg_value("timestamp", rng),
        )
        lvl = rng.choice(["INFO", "WARN", "ERROR", "DEBUG"])
        svc = rng.choice(["auth", "billing", "gateway", "worker", "api", "mailer"])
        msg = rng.choice(
            [
                "request accepted",
                "login failed",
                "retrying upstream call",
                "payload received",
                "config loaded",
                "webhook sent",
            ]
        )
        b.lit(f" {lvl} [{svc}] {msg} ")
        if what in ("GENERIC_SECRET", "placeholder_secret"):
            _generic_secret(b, ctx, "en", placeholder=what == "placeholder_secret")
        elif what == "PRIVATE_KEY":
            b.lit("key loaded:")
            _emitter(what, ctx, locale, lang)(b)
        else:
            b.lit(rng.choice(_KEYS.get(what, ["value"])) + "=")
            _emitter(what, ctx, locale, lang, style="log")(b)
        b.lit(" request_id=")
        b.neg("uuid", neg_value("uuid", rng))
    return b


_NEG_CHOICES = [k for k in NEGATIVE_KINDS if k != "placeholder"] + [
    "placeholder",
    "placeholder_secret",
]


@functools.lru_cache(maxsize=8)
def _generate(n: int, seed: int) -> tuple[Item, ...]:
    from faker import Faker

    fakers: dict[str, object] = {}
    for i, loc in enumerate(LOCALES):
        fk = Faker(loc)
        fk.seed_instance(seed * 1000 + i)
        fakers[loc] = fk
    ctx = _Ctx(random.Random(seed), fakers, seed)
    rng = ctx.rng
    locales = list(LOCALES)
    items: list[Item] = []
    pos_count = 0
    for i in range(n):
        locale = locales[i % len(locales)]
        lang = LOCALES[locale][0]
        kind = KINDS[(i // len(locales)) % len(KINDS)] if rng.random() < 0.7 else rng.choice(KINDS)
        if i % 4 == 3:  # negatives only
            whats = [rng.choice(_NEG_CHOICES) for _ in range(rng.choice([1, 1, 2]))]
        else:
            first = ENTITIES[(pos_count // len(locales) + pos_count) % len(ENTITIES)]
            pos_count += 1
            whats = [first]
            if rng.random() < 0.3:
                whats.append(rng.choice(ENTITIES))
            if rng.random() < 0.3:
                whats.insert(rng.randrange(len(whats) + 1), rng.choice(_NEG_CHOICES))
        if kind == "config":
            b = _config(ctx, lang, locale, whats)
        elif kind == "log":
            b = _log(ctx, lang, locale, whats)
        else:
            b = _prose(ctx, lang, kind, locale, whats)
        items.append(b.item(f"{seed}-{i:05d}", locale, kind))
    return tuple(items)


def generate(n: int = 2400, seed: int = 0) -> list[Item]:
    """``n`` labelled items, the same for the same ``(n, seed)``."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return list(_generate(n, seed))


def summary(items: list[Item]) -> dict[str, dict[str, int]]:
    """Counts of labelled spans per entity and negatives per kind."""
    ent: dict[str, int] = {}
    neg: dict[str, int] = {}
    for it in items:
        for s in it.spans:
            ent[s.entity] = ent.get(s.entity, 0) + 1
        for g in it.negatives:
            neg[g.kind] = neg.get(g.kind, 0) + 1
    return {"entities": ent, "negatives": neg}


if __name__ == "__main__":
    import time

    t = time.perf_counter()
    corpus = generate()
    print(f"{len(corpus)} items in {time.perf_counter() - t:.2f} s")
    print(json.dumps(summary(corpus), indent=1))
    for it in corpus[:12]:
        print(
            "---",
            it.id,
            it.locale,
            it.kind,
            [(s.entity, s.value[:30]) for s in it.spans],
            [(g.kind, g.value) for g in it.negatives],
        )
        print(it.text)
