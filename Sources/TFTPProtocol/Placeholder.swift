enum _PlaceholderTFTPProtocol {}
