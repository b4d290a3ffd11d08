# expect: 4:16: unexpected end of file; expected '(', 'every', 'fits', 'labeldiff', 'not', 'pixeldiff', 'predicted', a name or a number
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when
