"""A small corpus of text files in several languages and legacy encodings, for encoding detection.

Each sample is (language, encoding, text): short prose with the accented letters the
language uses, written into the encodings such files really come in — Western European
languages in Latin-1 and cp1252 (with its curly quotes, dashes and euro sign), Central
European ones in cp1250, and all of them in UTF-16 — plus the short one-line files that
fooled detection before (a line of French read as cp1257). bench/encodings.py measures
detection on it; tests/test_encodings.py checks every file comes back exactly.
"""

from __future__ import annotations

from pathlib import Path

WESTERN = {
    "French": (
        "Il était une fois, au milieu de la forêt, une vieille maison où l'on préparait le café "
        "très tôt. Après la pluie, les enfants allaient près de la rivière à Zürich, puis "
        "rentraient dîner. Être naïf n'est pas un défaut : c'est ça, la leçon de l'aïeul."
    ),
    "German": (
        "Die Straßenbahn fährt über die Brücke nach Süden. Für die Größe der Städte ist das "
        "Verkehrsnetz außergewöhnlich gut; Bürger können täglich günstig reisen, und im Frühling "
        "öffnen die Gärten früh."
    ),
    "Spanish": (
        "El niño comió una manzana en el jardín después de la canción. ¿Quién sabe cuántos años "
        "tiene la montaña? ¡Qué día tan largo! La señora llegó a las ocho a la estación."
    ),
    "Portuguese": (
        "A canção do pescador falava do coração e da emoção do mar. As mãos da avó teciam redes "
        "enquanto os irmãos pescavam; não há nação sem memória, e a lição ficou para os netos."
    ),
    "Italian": (
        "La città è piena di caffè e di libertà. Perché il treno arrivò in ritardo? Più tardi "
        "andremo là, dove la virtù e la felicità si incontrano: così dicevano i nonni."
    ),
    "Swedish": (
        "På hösten går vi ofta till sjön för att fiska. Där är vattnet klart och kallt, och "
        "björkarna lyser gula. Många säger att det är årets vackraste tid."
    ),
    "Danish": (
        "Det er dejligt at gå en tur ved søen om morgenen. Børnene løber på græsset, og vi spiser "
        "rødgrød med fløde bagefter; så kører vi hjem til København."
    ),
    "Dutch": (
        "Het café aan de overkant is geëvolueerd tot een ontmoetingsplek. De ideeën van de "
        "coöperatie werden in één avond besproken, en iedereen was tevreden over het resultaat."
    ),
}

CENTRAL = {
    "Czech": (
        "Příliš žluťoučký kůň úpěl ďábelské ódy. V létě jsme jezdili k řece, kde děti stavěly "
        "hráze z kamenů a večer jsme poslouchali písně u ohně."
    ),
    "Polish": (
        "Zażółć gęślą jaźń. W górach spędziliśmy cały tydzień; każdego dnia wędrowaliśmy ścieżkami "
        "przez las, a wieczorem piliśmy herbatę przy kominku."
    ),
    "Hungarian": (
        "Árvíztűrő tükörfúrógép. A győri vonat késett, ezért a bőröndöket a peronon hagytuk, és "
        "egy közeli kávézóban vártunk a következő járatra."
    ),
    "Slovak": (
        "Kŕdeľ šťastných ďatľov učí pri ústí Váhu mĺkveho koňa obhrýzať kôru. V lete sme chodili "
        "do hôr a večer sme sedeli pri ohni."
    ),
    "Croatian": (
        "Gojazni đačić s biciklom drži hmelj i finu vatu u džepu nošnje. Ljeti smo često išli na "
        "more, a zimi smo čitali knjige uz toplu peć."
    ),
}

# cp1252's own characters (bytes 0x80-0x9f): typographic quotes, dashes, the euro sign, œ.
CP1252_EXTRAS = {
    "French": "« Œuvre » coûte 12 € — c’est “très” cher… disait l’œnologue.",
    "German": "„Schön“, sagte sie – und zahlte 5 € für den Kaffee…",
    "Spanish": "“Año nuevo” – dijo José… y pagó 20 €.",
}

# One-line files, where detection has least to go on.
SHORT = [
    ("French", "latin-1", "crème, naïve, déjà, François"),
    ("French", "latin-1", "L'été à Noël, où ça?"),
    ("German", "latin-1", "Grüße aus Köln"),
    ("Spanish", "latin-1", "¿Dónde está el baño?"),
    ("Czech", "cp1250", "Děkuji, přijedu zítra večer."),
    ("Polish", "cp1250", "Dziękuję, będę jutro wieczorem."),
]


def samples() -> list[tuple[str, str, str]]:
    """(language, encoding, text) for every file of the corpus."""
    found = []
    for language, text in WESTERN.items():
        found.append((language, "latin-1", text))
        found.append((language, "cp1252", text + " " + CP1252_EXTRAS.get(language, "“Bien” – 10 €…")))
        found.append((language, "utf-16", text))
    for language, text in CENTRAL.items():
        found.append((language, "cp1250", text + " „Dobře“ – 10 €…"))
        found.append((language, "utf-16", text))
    found.extend(SHORT)
    return found


def write_samples(folder: Path) -> list[tuple[Path, str, str]]:
    """Write the corpus as .txt files under `folder`; returns (path, encoding, text) for each."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number, (language, encoding, text) in enumerate(samples()):
        path = folder / f"{number:02d}-{language.lower()}-{encoding}.txt"
        path.write_bytes(text.encode(encoding))
        written.append((path, encoding, text))
    return written
