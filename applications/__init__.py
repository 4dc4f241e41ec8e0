"""申办: forms, materials and uploads, the workflow, 秒批 rules, ratings (好差评)."""
