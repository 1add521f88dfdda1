DROP TABLE captcha_tokens;
