"""Words for the sample shop: product catalogue parts, review texts and copy phrasing.

``core.sample`` draws from these lists with a seeded generator. They are kept
apart from the generator so that the numbers and the wording can be read (and
extended) separately. Copy phrasing is deliberately varied (many hooks, offer
phrasings, calls to action and channel-specific shapes) because the predictor
learns from the wording of past variants.
"""

from __future__ import annotations

import numpy as np

from core.copy_features import CHANNEL_LIMITS

SHOP_NAME = "Larkmoor"

# category -> (brands, [(product noun, low price, high price)], benefits, copy labels, emoji)
CATALOGUE: dict[str, dict] = {
    "Electronics": {
        "brands": ("Voltix", "Auralane", "Kestrel", "Nimbus", "Lumio"),
        "items": (
            ("Wireless Earbuds", 39, 129), ("Noise-Cancelling Headphones", 89, 299),
            ("Bluetooth Speaker", 29, 149), ("USB-C Fast Charger", 15, 49), ("Smartwatch", 99, 349),
            ("Portable Power Bank", 25, 69), ("Mechanical Keyboard", 59, 159), ("HD Webcam", 39, 119),
            ("Action Camera", 149, 399), ("Smart Desk Lamp", 29, 89),
        ),
        "benefits": ("all-day battery life", "crisp, room-filling sound", "fast charging in minutes",
                     "a slim, travel-ready design", "seamless pairing with your phone"),
        "labels": ("tech", "electronics", "gadgets", "headphones & speakers", "smart tech"),
        "emoji": ("🎧", "⚡", "📱", "🔋"),
    },
    "Home & Kitchen": {
        "brands": ("Hearthwell", "Copper & Oak", "Nordhaus", "Maple Lane", "Stillwater"),
        "items": (
            ("Cast Iron Skillet", 29, 79), ("Pour-Over Coffee Set", 24, 64), ("Stoneware Mug Set", 19, 49),
            ("Linen Duvet Cover", 69, 189), ("Chef's Knife", 35, 129), ("High-Speed Blender", 59, 199),
            ("Soy Wax Candle", 12, 38), ("Cotton Bath Towel Set", 29, 89), ("Glass Storage Set", 19, 59),
            ("French Press", 22, 59),
        ),
        "benefits": ("built to last for years", "easy to clean", "a warm, cosy glow",
                     "restaurant results at home", "soft, breathable comfort"),
        "labels": ("kitchen", "home", "kitchen essentials", "home & kitchen", "cookware"),
        "emoji": ("🏡", "☕", "🍳", "🕯️"),
    },
    "Beauty": {
        "brands": ("Lumière", "Glowology", "Petal & Pine", "Verde Botanics", "Skinfolk"),
        "items": (
            ("Vitamin C Serum", 18, 59), ("Hydrating Moisturiser", 16, 48), ("Matte Lipstick", 9, 29),
            ("Eau de Parfum", 39, 119), ("Clay Face Mask", 12, 34), ("Argan Oil Shampoo", 10, 28),
            ("SPF 50 Sunscreen", 12, 32), ("Brightening Eye Cream", 19, 54), ("Shea Body Lotion", 9, 26),
            ("Makeup Brush Set", 15, 49),
        ),
        "benefits": ("visibly brighter skin", "clean, vegan ingredients", "a long-lasting finish",
                     "gentle enough for every day", "deep hydration that lasts"),
        "labels": ("beauty", "skincare", "beauty favourites", "makeup", "skincare essentials"),
        "emoji": ("💄", "✨", "🌸", "💆"),
    },
    "Apparel": {
        "brands": ("Northbound", "Fieldhouse", "Loom & Thread", "Harbor Co.", "Plainweave"),
        "items": (
            ("Merino Crew Sweater", 59, 139), ("Everyday Hoodie", 39, 89), ("Slim Fit Jeans", 49, 119),
            ("Canvas Sneakers", 45, 99), ("Packable Rain Jacket", 69, 179), ("Linen Shirt", 39, 89),
            ("Organic Cotton Tee", 15, 35), ("Wrap Dress", 49, 129), ("Wool Beanie", 15, 39),
            ("Leather Belt", 25, 69),
        ),
        "benefits": ("a fit that flatters", "responsibly made fabrics", "softer with every wash",
                     "easy to dress up or down", "made to layer"),
        "labels": ("fashion", "apparel", "wardrobe staples", "new season fashion", "outfit essentials"),
        "emoji": ("👟", "👗", "🧥", "🛍️"),
    },
    "Sports & Outdoors": {
        "brands": ("Summitline", "Stride", "Trailhead", "Kinetic", "Basecamp"),
        "items": (
            ("Non-Slip Yoga Mat", 25, 79), ("Running Shoes", 69, 159), ("Insulated Water Bottle", 19, 45),
            ("Resistance Band Set", 15, 39), ("Hiking Backpack", 59, 169), ("Camping Hammock", 29, 79),
            ("Adjustable Dumbbells", 99, 299), ("Trail Headlamp", 19, 59), ("Cycling Gloves", 15, 45),
            ("Foam Roller", 19, 49),
        ),
        "benefits": ("grip that holds in every pose", "lightweight on the trail", "cold for 24 hours",
                     "built for your toughest workout", "packs down small"),
        "labels": ("fitness", "outdoor gear", "running", "sports & outdoors", "workout gear"),
        "emoji": ("🏃", "⛺", "🚴", "🧘"),
    },
    "Toys & Games": {
        "brands": ("Brightbox", "Tinker Town", "Playwell", "Meeple House", "Little Oak"),
        "items": (
            ("Building Blocks Set", 24, 89), ("Strategy Board Game", 29, 69), ("1000-Piece Puzzle", 15, 35),
            ("Wooden Train Set", 39, 99), ("Remote Control Car", 35, 89), ("Plush Bear", 15, 39),
            ("Party Card Game", 12, 29), ("Junior Science Kit", 25, 59), ("Art Supplies Set", 19, 49),
            ("Marble Run", 29, 79),
        ),
        "benefits": ("hours of screen-free fun", "great for family game night", "sparks curiosity",
                     "safe, sturdy materials", "loved by kids and grown-ups"),
        "labels": ("toys", "games", "toys & games", "family games", "kids' favourites"),
        "emoji": ("🧩", "🎲", "🧸", "🚂"),
    },
    "Books": {
        "brands": ("Harrow Press", "Bluefin Books", "Quillstone", "Open Field", "Lantern House"),
        "items": (
            ("Thriller (Paperback)", 9, 18), ("Cookbook", 19, 39), ("Historical Novel", 10, 24),
            ("Self-Help Guide", 12, 26), ("Illustrated Children's Book", 8, 19), ("Travel Guide", 14, 29),
            ("Poetry Collection", 10, 22), ("Science Bestseller", 14, 30), ("Graphic Novel", 12, 28),
            ("Gardening Handbook", 15, 32),
        ),
        "benefits": ("impossible to put down", "a new bestseller", "beautifully illustrated",
                     "the perfect gift", "recipes for every night of the week"),
        "labels": ("books", "bestsellers", "new books", "reading list picks", "page-turners"),
        "emoji": ("📚", "📖", "🔖"),
    },
    "Pet Supplies": {
        "brands": ("Pawsome", "Tailwind", "Whisker & Co.", "Good Boy Goods", "Furbest"),
        "items": (
            ("Dog Chew Toy Set", 12, 29), ("Cat Scratching Post", 25, 79), ("Grain-Free Dog Treats", 8, 22),
            ("Orthopedic Pet Bed", 39, 119), ("Reflective Dog Leash", 12, 32), ("Self-Cleaning Litter Box", 89, 249),
            ("Crinkle Cat Tunnel", 12, 29), ("Pet Grooming Brush", 10, 25), ("Steel Bowl Set", 12, 30),
            ("Catnip Toy Trio", 6, 16),
        ),
        "benefits": ("vet-approved materials", "tail-wagging approved", "easy to clean",
                     "made for curious cats", "comfort for older dogs"),
        "labels": ("pet", "dog", "pet supplies", "cat", "pet essentials"),
        "emoji": ("🐶", "🐱", "🐾"),
    },
}
CATEGORY_ORDER: tuple[str, ...] = tuple(CATALOGUE)

BOOK_WORDS = (
    ("The Quiet", "The Last", "A Winter", "The Salt", "The Hidden", "Northern", "The Lantern", "Small",
     "The Glass", "Wild"),
    ("Harbor", "Orchard", "Letters", "Summer", "Kingdom", "Lights", "Garden", "Fires", "River", "Table"),
)
MODELS = ("", " Pro", " Mini", " Max", " Air", " Lite", " 2", " Plus", " Classic", " Go")

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isabella", "James", "Mia",
    "William", "Amelia", "Benjamin", "Harper", "Lucas", "Evelyn", "Henry", "Abigail", "Alexander", "Emily",
    "Mason", "Ella", "Michael", "Grace", "Ethan", "Chloe", "Daniel", "Zoe", "Jacob", "Lily", "Logan",
    "Hannah", "Jackson", "Nora", "Sebastian", "Layla", "Jack", "Aria", "Aiden", "Riley", "Owen", "Luna",
    "Samuel", "Priya", "Mateo", "Sofia", "Leo", "Aisha", "Yusuf", "Mei", "Kenji", "Fatima", "Diego",
    "Ingrid", "Lars", "Chiara", "Marco", "Amara", "Tomas", "Noor", "Ravi", "Elena", "Jonas", "Maya",
)
LAST_INITIALS = "ABCDEFGHJKLMNPRSTVW"
REGIONS = ("Northeast", "Southeast", "Midwest", "Southwest", "West")
REGION_P = (0.24, 0.22, 0.2, 0.14, 0.2)
DEVICES = ("mobile", "desktop", "tablet")
DEVICE_P = (0.58, 0.34, 0.08)
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
AGE_P = (0.14, 0.3, 0.24, 0.17, 0.15)
LOYALTY_TIERS = ("none", "bronze", "silver", "gold")

REVIEWS = {
    1: ("Broke after a week. Very disappointed.", "Not as described, returning it.",
        "Poor quality for the price.", "Arrived damaged and support was slow."),
    2: ("Smaller than expected.", "It works, but feels cheap.", "Okay at first, then it started to fall apart.",
        "Colour was off compared to the photos."),
    3: ("Does the job, nothing special.", "Decent for the price.", "Fine, but delivery took a while.",
        "Average quality, would maybe buy again."),
    4: ("Really good, would recommend.", "Great value, happy with it.", "Nice quality, fast delivery.",
        "Works well, one small niggle with the packaging.", "Better than I expected."),
    5: ("Absolutely love it!", "Perfect, exactly what I wanted.", "Best purchase this year.",
        "Excellent quality, bought a second one.", "Five stars, arrived fast and looks great."),
}

# -- copy phrasing ------------------------------------------------------------
PERSONAL_PREFIX = ("{first_name}, ", "Hey {first_name}! ", "{first_name}: ", "Hi {first_name}, ")
URGENCY = ("Today only", "Ends tonight", "Last chance", "48 hours only", "Hurry", "Final hours",
           "While stocks last", "Ends at midnight", "Limited time", "Don't miss out")
CTA = ("Shop now", "Grab yours", "Discover more", "Explore the collection", "Get yours", "Treat yourself",
       "Shop the edit", "See what's new", "Find yours", "Check it out")
# Hooks that name a product ({thing}) are only used when the campaign promotes one.
PRODUCT_HOOKS = (
    "New in: {thing}", "Just landed: {thing}", "Back in stock: {thing}", "Meet the {thing}",
    "Made for you: the {thing}", "Spotted: the {thing}", "Everyone's talking about the {thing}",
    "The {thing} is back",
)
LABEL_HOOKS = (
    "Our best-rated {label}", "The {label} edit is here", "Fresh picks in {label}",
    "Customer favourites in {label}", "Your next favourite {label}", "This week's {label} picks",
    "New season {label}", "Top-rated {label}, hand-picked", "Just dropped: new {label}",
)
PRODUCT_QUESTIONS = ("Need a new {noun}?", "Have you seen the {thing}?", "Still thinking about the {thing}?")
LABEL_QUESTIONS = ("Ready for new {label}?", "Looking for {label}?", "Time to refresh your {label}?",
                   "Need a new {noun}?")
CODE_WORDS = ("SAVE", "TREAT", "HELLO", "SPRING", "SUMMER", "STYLE", "DEAL", "EXTRA", "VIP", "WELCOME")


def percent_phrase(rng: np.random.Generator, pct: int, label: str) -> str:
    forms = (f"{pct}% off {label}", f"Save {pct}% on {label}", f"Take {pct}% off {label}",
             f"An extra {pct}% off {label}", f"{pct}% off everything", f"Up to {pct}% off {label}",
             f"Enjoy {pct}% off {label}")
    return forms[rng.integers(len(forms))]


def amount_phrase(rng: np.random.Generator, amount: int, label: str) -> str:
    forms = (f"${amount} off {label}", f"Save ${amount} on {label}", f"Take ${amount} off your {label} order",
             f"${amount} off orders over ${amount * 5}")
    return forms[rng.integers(len(forms))]


def shipping_phrase(rng: np.random.Generator, label: str) -> str:
    forms = (f"Free shipping on all {label}", "Free delivery on every order", f"Free shipping on {label}",
             "Free shipping, no minimum")
    return forms[rng.integers(len(forms))]


def gift_phrase(rng: np.random.Generator, label: str) -> str:
    forms = ("A free gift with every order", f"Free gift with purchase on {label}",
             f"Bonus gift with your {label} order")
    return forms[rng.integers(len(forms))]


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def compose_copy(
    rng: np.random.Generator,
    *,
    channel: str,
    category: str,
    thing: str | None,
    noun: str,
    offer_type: str,
    offer_value: float,
    promo_code: str | None,
    urgency: bool,
    personal: bool,
    emoji: bool,
    cta: bool,
    question: bool,
    long: bool,
) -> str:
    """Write one piece of copy with the requested ingredients, within the channel limit.

    ``thing`` is the promoted product's title, or None for a category-wide
    message. Up to 48 random phrasings are tried; the first that fits wins.
    Later attempts shed optional parts (emoji, then question, CTA and the
    long-form sentence), and a last resort truncates, so every text respects
    its channel limit.
    """
    limit = CHANNEL_LIMITS[channel]
    cat = CATALOGUE[category]
    for attempt in range(48):
        use_emoji = emoji and attempt < 32
        use_extra = attempt < 40
        label = pick(rng, cat["labels"])
        if offer_type == "percent":
            offer = percent_phrase(rng, int(offer_value), label)
        elif offer_type == "amount":
            offer = amount_phrase(rng, int(offer_value), label)
        elif offer_type == "free_shipping":
            offer = shipping_phrase(rng, label)
        elif offer_type == "gift":
            offer = gift_phrase(rng, label)
        else:
            offer = ""
        asking = question and use_extra
        hooks: tuple[str, ...]
        if thing is not None and rng.random() < 0.6:
            hooks = PRODUCT_QUESTIONS if asking else PRODUCT_HOOKS
        else:
            hooks = LABEL_QUESTIONS if asking else LABEL_HOOKS
        hook = pick(rng, hooks).format(thing=thing, label=label, noun=noun.lower())
        urg = pick(rng, URGENCY) if urgency else ""
        action = pick(rng, CTA) if cta and use_extra else ""
        icon = pick(rng, cat["emoji"]) if use_emoji else ""
        prefix = pick(rng, PERSONAL_PREFIX) if personal else ""
        benefit = pick(rng, cat["benefits"])
        detail = (f"The {thing}: {benefit}" if thing is not None else benefit[0].upper() + benefit[1:]) \
            if long and use_extra else ""
        code = f"code {promo_code}" if promo_code and offer else ""
        shape = int(rng.integers(4))
        if channel == "email_subject":
            if asking:
                text = f"{hook} {offer}" if offer else hook
                text = f"{text} ({urg.lower()})" if urg else text
            elif offer and shape == 0:
                text = f"{urg}: {_lower_first(offer)}" if urg else offer
            elif offer and shape == 1:
                text = f"{offer} ({urg.lower()})" if urg else offer
            elif offer:
                text = f"{hook} + {_lower_first(offer)}" + (f" | {urg}" if urg else "")
            else:
                text = hook + (f" - {urg}" if urg else "")
            if action and not asking and rng.random() < 0.5:
                text = f"{text} | {action}"
        elif channel == "banner":
            head = offer or hook
            if urg:
                head = f"{urg}: {_lower_first(head)}" if shape % 2 else f"{head}. {urg}"
            text = head + (f" | {action}" if action else "")
        elif channel == "push":
            lead = hook if (shape % 2 or not offer or asking) else offer
            body = []
            if offer and lead != offer:
                body.append(offer + (f" with {code}" if code and rng.random() < 0.5 else ""))
            if detail:
                body.append(detail)
            if urg:
                body.append(urg)
            if action:
                body.append(action)
            text = lead + "".join(("" if lead.endswith("?") and j == 0 else ".") + " " + b
                                  for j, b in enumerate(body))
        else:  # sms
            lead = hook if shape % 2 or not offer or asking else offer
            body = []
            if offer and offer != lead:
                body.append(offer)
            if code:
                body.append(f"Use {code}" if shape < 2 else f"Use {code} at checkout")
            if detail:
                body.append(detail)
            if urg:
                body.append(urg)
            if action:
                body.append(f"{action}: larkmoor.example/s")
            body.append("Reply STOP to opt out")
            text = lead + "".join(("" if lead.endswith("?") and j == 0 else ".") + " " + b
                                  for j, b in enumerate(body))
        if prefix:
            text = prefix + (_lower_first(text) if prefix.endswith(", ") else text)
        if channel == "sms":
            text = f"{SHOP_NAME}: {text}"
        if channel != "sms" and "!" not in text and not text.endswith("?") and (offer or urg) \
                and rng.random() < 0.25:
            text = text.rstrip(".") + "!"
        if icon:
            text = f"{text} {icon}" if rng.random() < 0.7 else f"{icon} {text}"
        text = " ".join(text.split())
        if len(text) <= limit:
            return text
    return (prefix + (offer or label))[:limit]
