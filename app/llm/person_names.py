"""People found from the text itself, not only from the directory: names after greetings,
in sign-offs, after "my name is" / "this is" / "Name:", capitalised runs around a known
given name; then every part of each found name wherever it recurs (any case, any
apostrophe or hyphen, diacritics folded: ``Jose Muller`` is ``José Müller``)."""

import re
import unicodedata
from collections.abc import Iterable, Iterator

from app.llm.given_names import GIVEN_NAMES, PARTICLES

Candidate = tuple[int, int, str]

_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"}
_HYPHENS = {"\u2010": "-", "\u2011": "-"}
_SPECIAL = {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i"}


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch
    if ch in _APOSTROPHES:
        return _APOSTROPHES[ch]
    if ch in _HYPHENS:
        return _HYPHENS[ch]
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    decomposed = unicodedata.normalize("NFKD", ch)
    if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
        return decomposed[0]
    return ch


class _FoldTable(dict[int, str]):
    """``str.translate`` table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        self[code] = folded
        return folded


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Diacritics, apostrophes and hyphens folded one character for one, so offsets in
    the folded text are offsets in the original."""
    if text.isascii():
        return text.replace("`", "'")
    return text.translate(_FOLD_TABLE)


_LETTER = r"[^\W\d_]"
_TOKEN = rf"{_LETTER}+(?:['\-]{_LETTER}+)*"
_CJK = r"[\u4e00-\u9fff\u3400-\u4dbf]{2,4}|[\uac00-\ud7af]{2,4}"
_GREETING_WORDS = (
    "hi|hello|hey|dear|hallo|hej|hei|bonjour|hola|ciao|ola|salut|moin|servus|good morning|"
    "good afternoon|guten tag|my name is|name is|mein name ist|je m'appelle|me llamo|mi nombre es|"
    "meu nome e"
)
_HONORIFICS = "Mr|Mrs|Ms|Dr|Herr|Frau|Mme|Mlle|Sr|Sra"
_LABEL_WORDS = (
    "name|full name|customer|contact|person|from|requester|caller|signed|attn|cc|contact person|kunde|nom|nombre"
)
_SIGNOFF_WORDS = (
    "thanks|thank you|many thanks|regards|best regards|kind regards|warm regards|best|cheers|"
    "sincerely|yours|br|mfg|mit freundlichen gru(?:ss|ß)en|viele gru(?:ss|ß)e|gru(?:ss|ß)e|gru(?:ss|ß)|"
    "lg|vg|cordialement|bien a vous|saludos|un saludo|atentamente|cumprimentos|abracos|groeten|"
    "met vriendelijke groet|hilsen|med vennlig hilsen|med venlig hilsen|halsningar|pozdrawiam|"
    "distinti saluti|cordiali saluti|saluti|ta|thx|tia|with thanks|all the best|take care|--"
)
_WEAK_WORDS = "this is|i am|i'm|it's|its|ich bin|je suis|soy|sono"


_SIGNOFF_LINE = rf"(?:{_SIGNOFF_WORDS})(?:[ \t]*[,/&+|][ \t]*(?:{_SIGNOFF_WORDS}))*"


def _first_letters(words: str) -> str:
    # a lookahead on the first letters lets the regex engine skip most positions quickly
    return "".join(sorted({w[0] for w in words.split("|")}))


# strong triggers take any capitalised run; weak ones only a known given name (or CJK)
_TRIGGERS = [
    (re.compile(rf"(?=[{_first_letters(_GREETING_WORDS)}])\b(?:{_GREETING_WORDS})\.?,?[ \t]+", re.I), True),
    (re.compile(rf"\b(?:{_HONORIFICS})\.?[ \t]+(?=[A-Z])"), True),
    (re.compile(rf"[\"'](?:{_LABEL_WORDS}|first_?name|last_?name|full_?name|customer_?name|display_?name)"
                rf"[\"'][ \t]*:[ \t]*[\"']", re.I), True),
    (re.compile(rf"^[ \t]*(?:{_LABEL_WORDS})[ \t]*:[ \t]*", re.I | re.M), True),
    # a sign-off line (several joined by "/" or "&" too), then the name on the next line or the
    # one after a blank line; or the name right after it on the same line ("cheers Leilani")
    (re.compile(rf"^[ \t]*{_SIGNOFF_LINE}[ \t]*[,.!]?[ \t]*\r?\n(?:[ \t]*\r?\n)?[ \t]*", re.I | re.M), True),
    (re.compile(rf"^[ \t]*{_SIGNOFF_LINE},?[ \t]+(?=[^\W\d_][^\n]{{0,40}}$)", re.I | re.M), True),
    (re.compile(rf"(?=[{_first_letters(_WEAK_WORDS)}])\b(?:{_WEAK_WORDS})[ \t]+", re.I), False),
]
_RUN_TOKEN = re.compile(rf"{_TOKEN}|{_CJK}")
# chat exports: "Esperanza Quispe joined the conversation", "Amaka has left the chat"
_JOINED = re.compile(r"^[ \t]*(?P<n>[^\W\d_][^\n]{1,60}?)[ \t]+(?:has[ \t]+)?(?:joined|left|entered)[ \t]+"
                     r"(?:the[ \t]+)?(?:chat|conversation|call|meeting|room)\b", re.I | re.M)
# CJK names in context: after 我叫/我是/署名/名前は/저는, before an honorific (さん, 様, 先生, 님, 씨)
_ANY_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
_CJK_BEFORE = re.compile(r"(?:我叫|我是|我的名字是|本人|署名[:：]?|名前は|私は|저는|제\s?이름은)\s*"
                         r"(?P<n>[\u4e00-\u9fff]{2,3}|[\uac00-\ud7af]{2,4})")
_CJK_AFTER = re.compile(r"(?P<n>[\u4e00-\u9fff]{2,3}|[\uac00-\ud7af]{2,4})(?:さん|様|さま|先生|氏|くん|ちゃん|女士|\s?(?:고객님|선생님|님|씨))")
_CAP_WORD = rf"[A-Z]{_LETTER}*(?:['\-]{_LETTER}+)*"
_PARTICLE = "(?:" + "|".join(sorted(PARTICLES, key=len, reverse=True)) + ")"
# a run of capitalised words (particles between them): the only place a given name can start a name
_CAP_RUN = re.compile(rf"(?=[A-Z])(?<![\w'@.-]){_CAP_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)*{_CAP_WORD})*")

# Capitalised words after a greeting that are not people.
_NOT_NAMES = frozenset("""
team all there everyone everybody folks guys sir madam madame support again sorry urgent the a an
and or but from at in on of for with to here speaking regarding re fwd fw please thanks team's
customer customers admin user users it we i you he she they this that billing sales service ok
""".split())
# Capitalised words that start sentences or name products/features rather than people.
_COMMON_WORDS = frozenset("""
about after again all also always an another any anyone are as because before being best both but
by can cannot could did do does done each either even every everything few first for from get gets
go good great had has have having here how however if in into is it its just last let like many
maybe more most much must my new next no none not now of off often on once one only or other our
out over own please same see she should since so some soon still such than that the their them then
there these they this those though through thus to today too two under until up upon very was we
well were what when where whether which while who why will with within without would yes yet you
your account admin after api app application attachment backup billing browser bug build cache case
chrome client cloud config customer dashboard data database dear desktop device disk docker download
edge email engine error event excel export file files firefox folder hello hi import inbox invoice
issue java key laptop linux login logs mac mail manager monitor network office order outlook password
payment phone portal printer product profile python queue release report request safari server
service settings slack smart sorting status storage support sync system team teams ticket tokens
update upgrade user version vpn warning windows wizard word zoom query rendered redaction monday
tuesday wednesday thursday friday saturday sunday january february march april june july august
september october november december regards thanks cheers sincerely kind warm many best greetings
""".split())
_STOP_LOWER = _NOT_NAMES | frozenset("is was will would has have had can could my our your his her".split())
_COMMON_SHORT = frozenset("an la le de da di do so to in on at is it as be by go me my no of or up us we".split())


def _is_given(token: str) -> bool:
    low = token.lower()
    return low in GIVEN_NAMES or ("-" in low and any(part in GIVEN_NAMES for part in low.split("-")))


_NOT_NAME_ENDING = re.compile(r"(?:ing|ed|tion|sion|ment|ness|able|ible|ity|ful|less|ous|ive|ize|ise)$")
_NAME_PREFIX = re.compile(r"^(?:Mc|Mac|O'|D'|Fitz)")


def _name_shaped(word: str) -> bool:
    """A capitalised word that could be a name: not all capitals, no capitals inside
    (``SQLite``, ``NumPy``) except after Mc/Mac/O'/hyphen, not an everyday word."""
    if _is_given(word) and not word.isupper():
        return True
    if len(word) < 2 or not word[0].isupper() or word.isupper():
        return False
    low = word.lower()
    if low in _NOT_NAMES or low in _COMMON_WORDS or low in GIVEN_NAMES:
        return False
    rest = _NAME_PREFIX.sub("", word)
    for piece in re.split(r"['-]", rest):
        if any(ch.isupper() for ch in piece[1:]):
            return False
    return not (len(low) > 4 and _NOT_NAME_ENDING.search(low))


def _run_after(folded: str, pos: int, strong: bool) -> tuple[int, int] | None:
    """The name-shaped run starting at ``pos`` (same line), or None."""
    m = _RUN_TOKEN.match(folded, pos)
    if m is None:
        return None
    if re.fullmatch(_CJK, m.group(0)):
        return m.start(), m.end()
    first = m.group(0)
    if strong and first.lower() in PARTICLES:
        # a surname that opens with its particle ("lastName": "de Souza", "Dear van Dijk")
        nxt = re.compile(r"[ \t]+").match(folded, m.end())
        after = _RUN_TOKEN.match(folded, nxt.end()) if nxt else None
        if after is None or not _name_shaped(after.group(0)):
            return None
        end, _ = _run_end(folded, after.end(), lower_run=False)
        return m.start(), end
    needs_second = _opening(first, strong)
    if needs_second is None:
        return None
    end, count = _run_end(folded, m.end(), lower_run=first[0].islower())
    if needs_second and count < 2:
        return None
    return m.start(), end


def _opening(first: str, strong: bool) -> bool | None:
    """Whether ``first`` can open a name: None when it cannot, True when the run needs a
    second name-shaped word ("this is Tendai Moyo": a weak trigger, an unknown name)."""
    if first.lower() in _NOT_NAMES:
        return None
    if first[0].islower():  # a lower-case run opens only with a known given name
        return False if _is_given(first) else None
    if not _name_shaped(first):
        return None
    return not strong and not _is_given(first)


def _run_end(folded: str, end: int, *, lower_run: bool) -> tuple[int, int]:
    """Where the run whose first word ends at ``end`` ends, and how many words it holds
    (at most four; up to two particles between them)."""
    count = 1
    scan = end
    pending_particles = 0
    while count < 4:
        gap = re.match(r"[ \t]+", folded[scan:])
        if gap is None:
            break
        nxt = _RUN_TOKEN.match(folded, scan + gap.end())
        if nxt is None:
            break
        word = nxt.group(0)
        if word.lower() in PARTICLES:
            pending_particles += 1
            scan = nxt.end()
            if pending_particles > 2:
                break
            continue
        # "Nguyen Van An", "von der Leyen": a capital after a particle goes on the run
        after_particle = word[0].isupper() and pending_particles > 0
        if not _continues(word, lower_run=lower_run, after_particle=after_particle):
            break
        end = scan = nxt.end()
        count += 1
        pending_particles = 0
    return end, count


def _continues(word: str, *, lower_run: bool, after_particle: bool) -> bool:
    capital = word[0].isupper()
    if (word.lower() in _STOP_LOWER and not after_particle) or (not capital and not lower_run):
        return False
    if capital and not after_particle and not _name_shaped(word):
        return False
    return capital or not lower_run or len(word) >= 3


_NAME_HEADER_WORDS = (r"(?:(?:full|customer|contact|display|first|last|given|family|sur|middle|user)[ _-]?)?name|"
                      r"customer|contact|surname|forename|vorname|nachname|name|nom|prenom|nombre|apellidos?|"
                      r"nome|cognome|sobrenome|achternaam|voornaam|fornavn|etternavn|efternamn|imie|nazwisko")
# a header line is short: the lookahead keeps one long line from costing quadratic time
_CSV_HEADER = re.compile(rf"^(?=[^\n]{{0,400}}$)[^\n]*\b(?:{_NAME_HEADER_WORDS})\b[^\n]*[,;\t|][^\n]*$", re.I | re.M)
_NAME_COLUMN = re.compile(_NAME_HEADER_WORDS, re.I)


def _csv_names(folded: str) -> Iterator[tuple[int, int]]:
    """Values of a CSV's name column, in the rows right under its header."""
    for header in _CSV_HEADER.finditer(folded):
        line_text = header.group(0)
        delimiter = max(",;\t|", key=line_text.count)
        columns = [c.strip().strip('"') for c in line_text.split(delimiter)]
        wanted = [i for i, c in enumerate(columns) if _NAME_COLUMN.fullmatch(c)]
        if not wanted:
            continue
        pos = header.end() + 1
        while pos < len(folded):
            line_end = folded.find("\n", pos)
            line_end = len(folded) if line_end < 0 else line_end
            line = folded[pos:line_end]
            if line.count(delimiter) != len(columns) - 1:
                break
            offset = pos
            for i, cell in enumerate(line.split(delimiter)):
                value = cell.strip().strip('"')
                if i in wanted and value and _RUN_TOKEN.match(value) and "@" not in value:
                    start = offset + cell.index(value)
                    yield start, start + len(value)
                offset += len(cell) + 1
            pos = line_end + 1


_NON_SPACE = re.compile(r"\S+")


def _found_names(folded: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = list(_csv_names(folded))
    spans += [(m.start("n"), m.end("n")) for m in _JOINED.finditer(folded) if _name_run(m.group("n"))]
    if _ANY_CJK.search(folded):
        spans += [(m.start("n"), m.end("n")) for rx in (_CJK_BEFORE, _CJK_AFTER) for m in rx.finditer(folded)]
    for trigger_rx, strong in _TRIGGERS:
        for trigger in trigger_rx.finditer(folded):
            run = _run_after(folded, trigger.end(), strong)
            if run is not None:
                spans.append(run)
    for m in _CAP_RUN.finditer(folded):
        cap_run = m.group(0)
        if " " not in cap_run and "\t" not in cap_run and not _is_given(cap_run):
            continue  # one capitalised word that is no given name: most runs (speed)
        tokens = [(t.start(), t.end()) for t in _NON_SPACE.finditer(cap_run)]
        words = [cap_run[s:e] for s, e in tokens]
        # the run counts only around a known given name, from it to the capitalised words after
        for i, word in enumerate(words):
            if word[0].isupper() and _is_given(word) and not word.isupper():
                j = i + 1
                while j < len(words) and (_name_shaped(words[j]) or (words[j].lower() in PARTICLES
                                                                      and j + 1 < len(words))):
                    j += 1
                while j > i + 1 and words[j - 1].lower() in PARTICLES:
                    j -= 1
                spans.append((m.start() + tokens[i][0], m.start() + tokens[j - 1][1]))
                break
    return spans


def _name_run(value: str) -> bool:
    """Every word of ``value`` name-shaped (a particle between them allowed)."""
    words = value.split()
    return 0 < len(words) <= 4 and all(_name_shaped(w) or w.lower() in PARTICLES for w in words)


def _part_pattern(part: str) -> str:
    escaped = re.escape(part).replace("'", "'?").replace(r"\-", r"[-\s]?")
    return escaped


def _parts_regex(names: Iterable[str]) -> re.Pattern[str] | None:
    loose: set[str] = set()
    exact: set[str] = set()
    for name in names:
        words = name.split()
        if len(words) > 1:
            loose.add(r"\s+".join(_part_pattern(w) for w in words))
        for word in words:
            pieces = [word] + (word.split("-") if "-" in word else [])
            for piece in pieces:
                low = piece.lower()
                if low in PARTICLES or len(piece) < 2:
                    continue
                if len(piece) <= 3 or low in _COMMON_SHORT or low in _NOT_NAMES:
                    exact.add(_part_pattern(piece))
                else:
                    loose.add(_part_pattern(piece))
    alternatives = [f"(?i:{p})" for p in sorted(loose, key=len, reverse=True)]
    alternatives += sorted(exact, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(r"(?<![\w@.'])(?:" + "|".join(alternatives) + r")(?![\w@'-]|\.\w)")


def people_in_text(text: str, folded: str | None = None) -> Iterator[Candidate]:
    folded = fold(text) if folded is None else folded
    spans = _found_names(folded)
    if not spans:
        return
    for start, end in spans:
        yield start, end, "PERSON"
    pattern = _parts_regex({folded[s:e] for s, e in spans if not re.fullmatch(_CJK, folded[s:e])})
    cjk = {folded[s:e] for s, e in spans if re.fullmatch(_CJK, folded[s:e])}
    if pattern is not None:
        for m in pattern.finditer(folded):
            yield m.start(), m.end(), "PERSON"
    for name in cjk:
        for m in re.finditer(re.escape(name), folded):
            yield m.start(), m.end(), "PERSON"
