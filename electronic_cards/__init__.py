"""电子卡包: licences, 亮证 tokens (SDL1), verification, keys, status lists, usage records."""
