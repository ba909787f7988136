/// Docker-style container names: an adjective and a notable scientist or hacker's surname.
enum NameGenerator {
    static let adjectives = [
        "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful",
        "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending",
        "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager",
        "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive",
        "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious", "great",
        "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring", "intelligent",
        "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest",
        "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic",
        "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical", "recursing",
        "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange",
        "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
        "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
    ]

    static let surnames = [
        "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage",
        "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "blackwell", "bohr",
        "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "cartwright", "cerf",
        "chandrasekhar", "chatelet", "chebyshev", "clarke", "cohen", "colden", "cori", "cray", "curie", "darwin",
        "davinci", "diffie", "dijkstra", "dirac", "driscoll", "dubinsky", "easley", "edison", "einstein", "elion",
        "engelbart", "euclid", "euler", "faraday", "fermat", "fermi", "feynman", "franklin", "galileo", "gates",
        "goldberg", "goldstine", "goldwasser", "goodall", "hamilton", "hawking", "heisenberg", "hermann",
        "hertz", "hodgkin", "hofstadter", "hoover", "hopper", "hugle", "hypatia", "jackson", "jang", "jennings",
        "jepsen", "johnson", "joliot", "jones", "kalam", "keller", "kepler", "khorana", "kilby", "knuth",
        "kowalevski", "lalande", "lamarr", "lamport", "leakey", "leavitt", "lederberg", "lehmann", "lewin",
        "liskov", "lovelace", "lumiere", "mahavira", "margulis", "matsumoto", "maxwell", "mayer", "mccarthy",
        "mcclintock", "meitner", "mendel", "merkle", "minsky", "mirzakhani", "montalcini", "moore", "morse",
        "napier", "nash", "neumann", "newton", "nightingale", "nobel", "noether", "northcutt", "noyce", "ochoa",
        "pascal", "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "ptolemy", "raman", "ramanujan",
        "ride", "ritchie", "robinson", "roentgen", "rosalind", "saha", "sammet", "shannon", "shaw", "shirley",
        "shockley", "sinoussi", "snyder", "spence", "stonebraker", "sutherland", "swanson", "swartz",
        "tesla", "thompson", "torvalds", "turing", "varahamihira", "villani", "visvesvaraya", "volhard",
        "wescoff", "wiles", "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath", "zhukovsky",
    ]

    static func random() -> String {
        while true {
            let name = "\(adjectives.randomElement() ?? "happy")_\(surnames.randomElement() ?? "turing")"
            // Docker's one exception: Steve Wozniak is not boring.
            if name != "boring_wozniak" { return name }
        }
    }
}
