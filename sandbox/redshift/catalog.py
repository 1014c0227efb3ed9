"""Constants the generator draws from: pages, places, names, and the dirty-data rates.

Unicode is deliberate (accents, CJK, emoji): the loaders must carry it through unchanged.
"""
from __future__ import annotations

from datetime import datetime, timezone

ANCHOR = datetime(2026, 11, 1, tzinfo=timezone.utc)  # the seeded history ends here
DAYS = 60

CAMPAIGNS_PER_SCALE = 30
EVENTS_PER_SCALE = 20_000

# Planted dirty data: the probability that a row carries each defect.
RATES = {
    "marketing_campaigns": {"null_campaign_id": 0.005, "null_campaign_name": 0.01,
                            "negative_spend": 0.01},
    "customer_behavior": {"null_event_id": 0.002, "exact_duplicate": 0.005,
                          "null_user_id": 0.01, "late_event": 0.02},
    "web_analytics": {"negative_sessions": 0.0025, "negative_revenue": 0.0025,
                      "null_page_path": 0.002},
}

CHANNELS = ["search", "display", "video", "shopping"]
CAMPAIGN_NAMES = [
    "Brand", "Generic", "Competitor", "Retargeting", "Black Friday", "Été – Soldes",
    "夏季促销", "Ñandú 🚀", "Back to School", "Prospecting", "Winter Warmers", "Größen-Sale",
]

# (path, title). Order matters: products form one block, popular pages come first.
PAGES = [
    ("/", "Home"),
    ("/products", "All products"),
    ("/category/shoes", "Shoes"),
    ("/category/bags", "Bags"),
    ("/category/outdoor", "Outdoor"),
    ("/category/sale", "Sale"),
    ("/category/new-arrivals", "New arrivals"),
    ("/category/kids", "Kids"),
    ("/products/trail-runner-2", "Trail Runner 2"),
    ("/products/city-sneaker", "City Sneaker"),
    ("/products/été-sandal", "Sandale Été"),
    ("/products/夏季-t恤", "夏季 T恤"),
    ("/products/ñandú-backpack", "Mochila Ñandú 🚀"),
    ("/products/weekender-bag", "Weekender Bag"),
    ("/products/rain-jacket", "Rain Jacket"),
    ("/products/wool-socks", "Wool Socks"),
    ("/products/hiking-boot", "Hiking Boot"),
    ("/products/läufer-pro", "Läufer Pro"),
    ("/products/yoga-mat", "Yoga Mat"),
    ("/products/water-bottle", "Water Bottle"),
    ("/products/sun-hat", "Sun Hat"),
    ("/products/crème-leather-care", "Crème Leather Care"),
    ("/products/kids-runner", "Kids Runner"),
    ("/products/gift-box", "Gift Box 🎁"),
    ("/search", "Search"),
    ("/cart", "Cart"),
    ("/checkout", "Checkout"),
    ("/checkout/confirmation", "Order confirmed"),
    ("/account", "Account"),
    ("/account/sign-up", "Sign up"),
    ("/account/orders", "Orders"),
    ("/blog", "Blog"),
    ("/blog/how-to-choose-running-shoes", "How to choose running shoes"),
    ("/blog/summer-2026-lookbook", "Summer 2026 lookbook"),
    ("/blog/entretien-du-cuir", "Entretien du cuir"),
    ("/blog/größentabelle", "Größentabelle"),
    ("/blog/东京-travel-guide", "东京 travel guide"),
    ("/help", "Help"),
    ("/help/shipping", "Shipping"),
    ("/help/returns", "Returns"),
    ("/help/size-guide", "Size guide"),
    ("/about", "About us"),
    ("/contact", "Contact"),
    ("/stores", "Stores"),
    ("/stores/são-paulo", "Loja São Paulo"),
    ("/stores/münchen", "Filiale München"),
    ("/gift-cards", "Gift cards"),
    ("/newsletter", "Newsletter"),
    ("/privacy", "Privacy"),
    ("/terms", "Terms"),
]
PRODUCTS = [i + 1 for i, (path, _) in enumerate(PAGES) if path.startswith("/products/")]
PAGE_INDEX = {path: i + 1 for i, (path, _) in enumerate(PAGES)}  # 1-based, as SQL arrays

PLACES = [
    ("United States", "New York"), ("United States", "San Francisco"),
    ("United Kingdom", "London"), ("France", "Paris"), ("Germany", "München"),
    ("Spain", "A Coruña"), ("Brazil", "São Paulo"), ("Japan", "東京"), ("China", "上海"),
    ("Poland", "Łódź"), ("Türkiye", "İstanbul"), ("Iceland", "Reykjavík"),
    ("Mexico", "Ciudad de México"), ("Canada", "Montréal"), ("India", "Bengaluru"),
    ("Australia", "Sydney"), ("Sweden", "Göteborg"), ("Norway", "Tromsø"),
]

REFERRERS = [
    "direct", "direct", "https://www.google.com/", "https://www.google.com/",
    "https://www.bing.com/search?q=chaussures+été", "https://t.co/ñandú",
    "newsletter", "https://www.baidu.com/s?wd=夏季促销",
]

FUNNEL = ["sign_up", "add_to_cart", "begin_checkout", "purchase"]
