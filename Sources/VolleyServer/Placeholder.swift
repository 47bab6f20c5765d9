enum _PlaceholderVolleyServer {}
